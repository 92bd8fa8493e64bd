-- A first note so a fresh stack shows something.
INSERT INTO notes (body, author) VALUES ('Hello from the migration job', 'migrate');
