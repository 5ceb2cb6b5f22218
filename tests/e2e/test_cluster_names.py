#!/usr/bin/env python3
"""End-to-end: test_names.py's scenarios again in cluster mode (test_cluster.py's
passes: `odoosync produce --once`, three `odoosync work` processes on one consumer
group with Redis locks). A swap of names and a merge are chains of jobs of several
document folders under one lock: the key keeps their order across workers.
The scenarios that hold a WebDAV lock through a pass stay local.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import main  # noqa: E402
import test_cluster  # noqa: E402
import test_names  # noqa: E402
import test_rules  # noqa: E402


class ClusterNames(test_cluster.ClusterRules):
    # these hold a WebDAV lock through a pass: the workers' retries end dead-lettered,
    # which the cluster tests forbid; the retry itself is the same code in both modes
    LOCAL_ONLY = {"test_locked_file_delays_the_rename_then_one_folder",
                  "test_merge_held_by_a_lock_goes_on_next_pass"}

    def setUp(self):
        if self._testMethodName in self.LOCAL_ONLY:
            self.skipTest("covered in local mode (test_names.py)")
        super().setUp()


for _k in dir(test_rules.Rules):
    if _k.startswith("test_"):
        setattr(ClusterNames, _k, None)  # test_cluster.py runs those
for _k, _v in vars(test_names.Names).items():
    if callable(_v) and not _k.startswith("__"):
        setattr(ClusterNames, _k, _v)


if __name__ == "__main__":
    main()
