"""The gateway's shell: settings, database, storage, web app, accounts, publishers, command line."""
