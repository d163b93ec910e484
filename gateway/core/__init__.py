"""What everything else stands on: database, encryption, storage, settings, refusals. Imports nothing of ours."""
