package match

// ImportDB gives the external tests (image_test.go) the database builder
// of the package's own tests.
var ImportDB = importDB
