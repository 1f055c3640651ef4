package independent

// The name lists below were written for this package, in rough order of how
// common each name is in England and Wales across the generations alive
// today: rank decides frequency (see zipf). They are deliberately not the
// lists the project's own generator uses.

var maleGiven = []string{
	"James", "John", "David", "Robert", "Michael", "William", "Thomas", "Richard", "Paul", "Peter",
	"Mark", "Andrew", "Christopher", "Daniel", "Stephen", "George", "Oliver", "Jack", "Harry", "Charlie",
	"Joseph", "Matthew", "Anthony", "Edward", "Samuel", "Alexander", "Benjamin", "Jonathan", "Simon", "Ian",
	"Gary", "Kevin", "Martin", "Steven", "Brian", "Alan", "Graham", "Kenneth", "Keith", "Colin",
	"Neil", "Philip", "Lewis", "Ryan", "Adam", "Luke", "Jamie", "Liam", "Connor", "Callum",
	"Kieran", "Nathan", "Jacob", "Noah", "Leo", "Oscar", "Arthur", "Henry", "Freddie", "Alfie",
	"Theo", "Archie", "Ethan", "Mohammed", "Muhammad", "Harvey", "Dylan", "Reuben", "Toby", "Max",
	"Isaac", "Lucas", "Finley", "Tyler", "Aaron", "Jordan", "Scott", "Craig", "Dean", "Wayne",
	"Darren", "Shaun", "Carl", "Barry", "Terence", "Raymond", "Roy", "Dennis", "Frank", "Frederick",
	"Albert", "Harold", "Ernest", "Stanley", "Leonard", "Norman", "Ronald", "Donald", "Douglas", "Gordon",
	"Hugh", "Malcolm", "Nigel", "Trevor", "Derek", "Clive", "Roger", "Geoffrey", "Patrick", "Sean",
	"Declan", "Rhys", "Owen", "Gareth", "Dafydd", "Hamish", "Angus", "Rory", "Fraser", "Euan",
	"Ravi", "Sanjay", "Arjun", "Rohan", "Kwame", "Tomasz", "Piotr", "Jakub", "Omar", "Yusuf",
}

var femaleGiven = []string{
	"Mary", "Margaret", "Elizabeth", "Sarah", "Susan", "Patricia", "Jennifer", "Linda", "Karen", "Helen",
	"Emma", "Claire", "Nicola", "Rachel", "Laura", "Rebecca", "Amy", "Emily", "Jessica", "Sophie",
	"Charlotte", "Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Lily", "Ella", "Freya",
	"Isabella", "Poppy", "Evie", "Chloe", "Hannah", "Lucy", "Katie", "Katherine", "Catherine", "Victoria",
	"Joanne", "Julie", "Deborah", "Tracey", "Michelle", "Kelly", "Donna", "Lisa", "Angela", "Jacqueline",
	"Christine", "Janet", "Ann", "Anne", "Barbara", "Brenda", "Carol", "Dorothy", "Doris", "Joan",
	"Jean", "Joyce", "Irene", "Eileen", "Sheila", "Pauline", "Valerie", "Gillian", "Maureen", "Kathleen",
	"Shirley", "Sandra", "Wendy", "Dawn", "Alison", "Fiona", "Kirsty", "Gemma", "Stacey", "Jade",
	"Danielle", "Natalie", "Samantha", "Zoe", "Abigail", "Megan", "Holly", "Ellie", "Millie", "Ruby",
	"Daisy", "Phoebe", "Matilda", "Florence", "Rosie", "Willow", "Harper", "Ivy", "Sienna", "Aisha",
	"Fatima", "Zara", "Priya", "Anjali", "Amara", "Agnieszka", "Katarzyna", "Siobhan", "Niamh", "Aoife",
	"Bethan", "Cerys", "Eilidh", "Morag", "Rhiannon", "Tegan", "Lauren", "Jodie", "Hayley", "Kerry",
	"Leanne", "Louise", "Caroline", "Judith", "Diane", "Lesley", "Elaine", "Yasmin", "Nadia", "Esther",
}

var familyNames = []string{
	"Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
	"Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
	"Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill",
	"Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen",
	"James", "Scott", "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young", "Griffiths",
	"Mitchell", "Kelly", "Cook", "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy",
	"Miller", "Cox", "Richards", "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Singh",
	"Begum", "Wilkinson", "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali",
	"Hunt", "Hussain", "Campbell", "Matthews", "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight",
	"Lloyd", "Butler", "Russell", "Barker", "Fisher", "Stevens", "Jenkins", "Murray", "Dixon", "Harvey",
	"Graham", "Pearson", "Ahmed", "Fletcher", "Walsh", "Kaur", "Gibson", "Howard", "Andrews", "Stewart",
	"Elliott", "Reynolds", "Saunders", "Payne", "Fox", "Ford", "Pearce", "Day", "Brooks", "West",
	"Lawrence", "Cole", "Atkinson", "Bradley", "Spencer", "Gill", "Dawson", "Ball", "Burton", "O'Brien",
	"Watts", "Rose", "Booth", "Perry", "Ryan", "Grant", "Wells", "Armstrong", "Francis", "Rees",
	"Hayes", "Hart", "Hudson", "Newman", "Barrett", "Webster", "Hunter", "Gregory", "Carr", "Lowe",
	"Page", "Marsh", "Riley", "Dunn", "Woods", "Parsons", "Berry", "Stone", "Reid", "Holland",
	"Hawkins", "Harding", "Porter", "Robertson", "Newton", "Oliver", "Reed", "Kennedy", "Williamson", "Bird",
	"Gardner", "Shah", "Dean", "Lane", "Cooke", "Bates", "Henderson", "Parry", "Burgess", "Bishop",
	"Walton", "Burns", "Nicholson", "Shepherd", "Ross", "Cross", "Long", "Freeman", "Warren", "Nicholls",
	"Hamilton", "Byrne", "Sutton", "McDonald", "Yates", "Hodgson", "Robson", "Curtis", "Hopkins", "O'Connor",
	"Harper", "Coleman", "Watkins", "Moss", "McCarthy", "Chambers", "O'Neill", "Griffin", "Sharp", "Hardy",
	"Wheeler", "Potter", "Osborne", "Johnston", "Gordon", "Doyle", "Wallace", "George", "Jordan", "Hutchinson",
	"Reeves", "Rowe", "Nowak", "Kowalski", "Chen", "Nguyen", "Okafor", "Mensah", "Ahmadi", "Rahman",
	"Chowdhury", "Ferguson", "MacLeod", "Fraser", "Sinclair", "Pritchard", "Vaughan", "Llewellyn", "Ashworth", "Whitfield",
	"Hargreaves", "Greenwood", "Pickering", "Fenwick", "Aldridge", "Blackburn", "Cartwright", "Dobson", "Entwistle", "Fairclough",
}

// Rare family names for a large vocabulary are compounds of a place-like
// stem and an ending ("Ashcroft", "Thornley"), appended after the list above.
var (
	familyStems   = []string{"Ash", "Black", "Brad", "Brook", "Cald", "Chad", "Crom", "Dal", "Dun", "Elm", "Fair", "Farn", "Hal", "Hay", "Hol", "Kings", "Lang", "Mar", "Mid", "Nor", "Oak", "Pen", "Red", "Roth", "Shel", "Stan", "Thorn", "Wake", "Wes", "Wins"}
	familyEndings = []string{"ford", "field", "ley", "ton", "wood", "worth", "well", "by", "croft", "ham", "hurst", "more", "stead", "wick", "bury", "dale", "gate", "lock", "shaw", "thwaite"}
)

// nicknames maps a given name to the familiar forms a clerk may write instead.
var nicknames = map[string][]string{
	"William": {"Bill", "Will", "Billy"}, "Robert": {"Bob", "Rob", "Bobby"}, "James": {"Jim", "Jimmy"},
	"John": {"Johnny"}, "Richard": {"Rick", "Dick", "Rich"}, "Thomas": {"Tom", "Tommy"},
	"Michael": {"Mike", "Mick"}, "Edward": {"Ed", "Ted", "Eddie"}, "Christopher": {"Chris"},
	"Anthony": {"Tony"}, "Joseph": {"Joe"}, "Samuel": {"Sam"}, "Alexander": {"Alex", "Sandy"},
	"Benjamin": {"Ben"}, "Daniel": {"Dan", "Danny"}, "Matthew": {"Matt"}, "Stephen": {"Steve"},
	"Steven": {"Steve"}, "Andrew": {"Andy", "Drew"}, "Peter": {"Pete"}, "Jonathan": {"Jon"},
	"Philip": {"Phil"}, "Kenneth": {"Ken"}, "Raymond": {"Ray"}, "Frederick": {"Fred"},
	"Albert": {"Bert"}, "Ronald": {"Ron", "Ronnie"}, "Donald": {"Don"}, "Douglas": {"Doug"},
	"Leonard": {"Len", "Lenny"}, "Terence": {"Terry"}, "Nathan": {"Nate"}, "Patrick": {"Pat"},
	"Henry":     {"Harry", "Hal"},
	"Elizabeth": {"Liz", "Beth", "Lizzie", "Betty"}, "Margaret": {"Maggie", "Peggy", "Meg"},
	"Katherine": {"Kate", "Kathy"}, "Catherine": {"Cathy", "Kate"}, "Rebecca": {"Becky", "Becca"},
	"Victoria": {"Vicky", "Tori"}, "Susan": {"Sue", "Susie"}, "Patricia": {"Pat", "Trish"},
	"Jennifer": {"Jenny", "Jen"}, "Deborah": {"Debbie", "Deb"}, "Samantha": {"Sam", "Sammy"},
	"Jacqueline": {"Jackie"}, "Christine": {"Chris", "Chrissie"}, "Abigail": {"Abbie", "Abby"},
	"Natalie": {"Nat"}, "Gillian": {"Gill", "Jill"}, "Kathleen": {"Kath"}, "Dorothy": {"Dot", "Dolly"},
	"Valerie": {"Val"}, "Nicola": {"Nicky"}, "Jessica": {"Jess"}, "Charlotte": {"Lottie"},
	"Isabella": {"Bella", "Izzy"}, "Florence": {"Flo"}, "Matilda": {"Tilly"}, "Sandra": {"Sandy"},
}

var streetNames = []string{
	"Church", "High", "Station", "Park", "Victoria", "Green", "Manor", "Mill", "School", "Queens",
	"Kings", "New", "Grange", "Springfield", "Windsor", "Highfield", "Albert", "York", "Alexandra", "North",
	"South", "West", "Chapel", "Orchard", "Meadow", "Oak", "Elm", "Beech", "Willow", "Cedar",
	"Mount", "Brook", "Castle", "Bridge", "Market", "Hillside", "Westfield", "Richmond", "Stanley", "Clarence",
	"Nelson", "Mill Hill", "Cross", "Forest", "Sandy", "Moor", "Priory", "Abbey", "Rectory", "Vicarage",
}

var streetKinds = []string{"Road", "Street", "Lane", "Avenue", "Close", "Drive", "Way", "Crescent", "Gardens", "Terrace"}

// towns pairs a town with its postcode area.
var towns = []struct{ name, area string }{
	{"Leeds", "LS"}, {"Bradford", "BD"}, {"Sheffield", "S"}, {"Manchester", "M"}, {"Bolton", "BL"},
	{"Wakefield", "WF"}, {"Huddersfield", "HD"}, {"Halifax", "HX"}, {"York", "YO"}, {"Hull", "HU"},
	{"Doncaster", "DN"}, {"Harrogate", "HG"}, {"Oldham", "OL"}, {"Preston", "PR"}, {"Blackburn", "BB"},
	{"Stockport", "SK"}, {"Wigan", "WN"}, {"Warrington", "WA"}, {"Chester", "CH"}, {"Lancaster", "LA"},
}

var emailDomains = []string{"gmail.com", "hotmail.co.uk", "yahoo.co.uk", "outlook.com", "btinternet.com", "icloud.com", "live.co.uk", "sky.com"}
