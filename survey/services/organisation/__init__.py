"""The unit tree and what each unit is measured with and against.

- `units`: creating, changing and closing units and counters within a manager's scope.
- `unit_import`: the all-or-nothing CSV import of a unit tree.
- `unit_plans`: instrument assignments of a unit.
- `targets`: yearly targets, who may set them, proposals by a unit's own manager and their approval.
- `opening_hours`: weekly opening hours of units and counters (Vietnam time), who sets them.
- `kiosks`: counter tablets (kiosk mode) registered and revoked by a manager, and their URLs.
- `assignments`: the instrument in force on a day, inherited from the nearest ancestor.
"""
