"""How `pytest -n 2 --dist loadfile` hands the test files to its workers (tests/conftest.py
installs it through xdist's `pytest_xdist_make_scheduler` hook).

xdist's own order puts the files with the most tests first, so our longest files, which hold one
or two tests each (a real Asterisk call, a crash test, 3,500 random webhooks), came last, and
one of them decided when the run ended while the other worker sat idle. Here the longest files go
first (longest-processing-time first: the short ones then fill in behind them), and the files
that use the machine's one Asterisk (tests/asterisk/harness.py: fixed ports, an exclusive lock)
make one unit of work for one worker, instead of one worker waiting on the other's lock.
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

# Files that start the machine's one Asterisk: they run one after the other on one worker.
ONE_ASTERISK = "the machine's one Asterisk"
USE_THE_ASTERISK = {
    "tests/asterisk/test_agi_fallback.py",
    "tests/asterisk/test_call_back_end_to_end.py",
    "tests/asterisk/test_deploy_files.py",
    "tests/asterisk/test_end_to_end.py",
    "tests/asterisk/test_notice_call_end_to_end.py",
}
# Seconds per file in whole runs on the shared 2-core machine (junit, 2 workers, the larger of
# two runs), for the files over ~20 s. Only the order matters, so rough figures do; a file not
# listed counts as short and keeps xdist's place. The Asterisk files add up to their unit's.
SECONDS = {
    "tests/asterisk/test_end_to_end.py": 145,
    "tests/asterisk/test_notice_call_end_to_end.py": 30,
    "tests/asterisk/test_agi_fallback.py": 17,
    "tests/asterisk/test_call_back_end_to_end.py": 4,
    "tests/asterisk/test_deploy_files.py": 5,
    "tests/sms/test_random_webhooks.py": 106,
    "tests/ivr/test_random_webhooks.py": 96,
    "tests/admin/test_dossier_pages.py": 87,
    "tests/admin/test_random_queries.py": 75,
    "tests/admin/test_staff_pages.py": 66,
    "tests/admin/test_hostile_queries.py": 63,
    "tests/onestop/test_crash_safety.py": 60,
    "tests/intake/test_lifecycle.py": 59,
    "tests/api/test_events.py": 55,
    "tests/ivr/test_audio.py": 54,
    "tests/scheduler/test_crash_safety.py": 51,
    "tests/admin/test_dashboard_report.py": 43,
    "tests/admin/test_log_in_throttling.py": 41,
    "tests/ivr/test_twilio_calls.py": 37,
    "tests/admin/test_access.py": 36,
    "tests/ivr/test_status_lookup.py": 26,
    "tests/tongdai/test_cli.py": 25,
    "tests/ivr/test_resume.py": 24,
    "tests/sms/smpp/test_crash.py": 23,
    "tests/browser/test_staff_in_a_browser.py": 23,
    "tests/sms/smpp/test_jasmin.py": 22,
    "tests/sms/smpp/test_gateway.py": 21,
}


class LongestFilesFirst(LoadFileScheduling):
    def _split_scope(self, nodeid: str) -> str:
        path = super()._split_scope(nodeid)
        return ONE_ASTERISK if path in USE_THE_ASTERISK else path

    def _seconds(self, scope: str) -> float:
        files = USE_THE_ASTERISK if scope == ONE_ASTERISK else {scope}
        return sum(SECONDS.get(path, 0.0) for path in files)

    def _assign_work_unit(self, node) -> None:
        # The longest unit left goes next; among the short ones xdist's order stays.
        longest = max(self.workqueue, key=self._seconds)
        self.workqueue.move_to_end(longest, last=False)
        super()._assign_work_unit(node)
