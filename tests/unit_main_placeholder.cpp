// Keeps the unit test target non-empty while test files are added.
