package viewer_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/carelens/carelens/audit"
	"github.com/carelens/carelens/viewer"
	"github.com/carelens/carelens/viewer/demo"
)

// clock is a test clock the viewer reads.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func withClock(c *clock) func(*viewer.Config) {
	return func(vc *viewer.Config) { vc.Now = c.Now }
}

func TestSessionIdleAndAbsoluteTimeouts(t *testing.T) {
	clk := &clock{now: time.Now()}
	e := startDemoWith(t, 3*time.Second, withClock(clk))
	c := e.gp()
	clk.Add(viewer.DefaultSessionIdle - time.Minute)
	resp, _ := e.get(c, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode, "within the idle timeout")
	clk.Add(viewer.DefaultSessionIdle + time.Second)
	resp, _ = e.get(c, "/")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "idle too long")

	c = e.gp()
	for elapsed := time.Duration(0); elapsed < viewer.DefaultSessionMax-10*time.Minute; elapsed += 10 * time.Minute {
		clk.Add(10 * time.Minute)
		resp, _ = e.get(c, "/")
		require.Equal(t, http.StatusOK, resp.StatusCode, "active use keeps the session before the absolute limit")
	}
	clk.Add(15 * time.Minute)
	resp, _ = e.get(c, "/")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "absolute timeout")
}

func TestRoleChangeEndsSessionOnNextRequest(t *testing.T) {
	e := startDemo(t, 3*time.Second)
	c := e.signIn("hospital.doctor", "northfield-demo")
	resp, _ := e.get(c, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var users []viewer.User
	for _, u := range demo.Users {
		h, err := viewer.HashPassword(u.Password)
		require.NoError(t, err)
		role := u.Role
		if u.ID == "hospital.doctor" {
			role = viewer.RoleNurse
		}
		users = append(users, viewer.User{ID: u.ID, Name: u.Name, Org: u.Org, Role: role, PasswordHash: h})
	}
	require.NoError(t, e.d.Handler.SetUsers(users))
	resp, _ = e.get(c, "/patient/"+e.shared())
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "the old role's session is over")
	c = e.signIn("hospital.doctor", "northfield-demo")
	_, body := e.get(c, "/")
	assert.Contains(t, body, "· nurse", "signed in again with the new role")
}

func TestBreakGlassExpires(t *testing.T) {
	clk := &clock{now: time.Now()}
	e := startDemoWith(t, 3*time.Second, withClock(clk))
	nhs := e.d.Restricted
	h := e.signIn("hospital.doctor", "northfield-demo")
	_, page := e.get(h, "/patient/"+nhs)
	resp, _ := e.post(h, "/patient/"+nhs+"/break-glass", url.Values{"csrf": {csrfOf(t, page)}, "reason": {"emergency"}, "text": {"Collapsed, unconscious in resus"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, page = e.get(h, "/patient/"+nhs)
	srcs, _ := rows(page)
	require.NotEmpty(t, srcs)
	limit := time.Duration(e.d.Policy.BreakGlass.MaxDuration)
	for step := 10 * time.Minute; limit > 0; limit -= step { // keep the session alive meanwhile
		clk.Add(min(step, limit))
		resp, _ = e.get(h, "/")
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	clk.Add(time.Second)
	resp, page = e.get(h, "/patient/"+nhs)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	srcs, _ = rows(page)
	assert.Empty(t, srcs, "the record closes when the time limit passes")
	ended := false
	for ev, err := range e.d.Audit.Events(t.Context(), audit.Filter{Patient: nhs}) {
		require.NoError(t, err)
		if ev.Action == audit.ActionBreakGlassEnd && ev.Note == "time limit reached" {
			ended = true
		}
	}
	assert.True(t, ended, "the end is audited")
}
