"""The Roster page: students, teachers and blocks; import and export."""
