"""Hài Lòng instruments: questionnaires as versioned data, and their loader."""
