package match

// Grade is how sure a match is, as FHIR Patient/$match grades candidates
// (code system http://terminology.hl7.org/CodeSystem/match-grade).
type Grade string

// Match grades, most certain first.
const (
	// GradeCertain meets the criteria to be linked automatically.
	GradeCertain Grade = "certain"
	// GradeProbable is close but needs review before it is relied on.
	GradeProbable Grade = "probable"
	// GradePossible should be reviewed by a person; never linked automatically.
	GradePossible Grade = "possible"
	// GradeCertainlyNot is known not to be a match (a person said so, or
	// a hard constraint such as two different valid NHS numbers).
	GradeCertainlyNot Grade = "certainly-not"
)
