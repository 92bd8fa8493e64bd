-- Notes get an author; old rows become "anonymous".
ALTER TABLE notes ADD COLUMN author text NOT NULL DEFAULT 'anonymous';
CREATE INDEX notes_created_at ON notes (created_at DESC);
