"""The Health page: status tiles by area, evidence and fixes, charts of local samples."""
