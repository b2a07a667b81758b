# Waits on a private dbus-daemon and a fake systemd; a hang must end as a failure, not stall the run.
set_tests_properties(test-units PROPERTIES TIMEOUT 120)
