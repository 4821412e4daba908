"""bench/bench_ref.py's judging of a ratio: which goals a line gets, how it is
printed, and when the loaded BLAS is the reference one (no PyTorch needed)."""
import os
import sys
import unittest

from ._util import ROOT

sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench_ref  # noqa: E402


class GoalsTest(unittest.TestCase):
    def test_every_line_gets_issue_20_goal(self):
        self.assertEqual(bench_ref.goals_for("mnist", 2, None), [(1.2, "issue20")])

    def test_cnn_one_thread_also_gets_its_own_issue_goal(self):
        self.assertEqual(bench_ref.goals_for("cnn", 1, None), [(1.2, "issue20"), (1.0, "issue17")])

    def test_goal_option_replaces_only_the_all_workload_goal(self):
        self.assertEqual(bench_ref.goals_for("cnn", 1, 1.5), [(1.5, "--goal"), (1.0, "issue17")])

    def test_line_names_the_goal_it_used(self):
        text = bench_ref.goal_text([(1.2, "issue20"), (1.0, "issue17")], 1.25)
        self.assertEqual(text, " goal=1.20 goal_from=issue20 also=issue17:1.00")

    def test_line_below_any_goal_is_marked(self):
        self.assertTrue(bench_ref.goal_text([(1.2, "issue20"), (1.0, "issue17")], 1.1).endswith(" below_goal"))


class BlasTest(unittest.TestCase):
    def test_netlib_blas_is_the_reference(self):
        self.assertTrue(bench_ref.is_reference_blas("/nonexistent/blas/libblas.so.3"))

    def test_openblas_is_not_the_reference(self):
        self.assertFalse(bench_ref.is_reference_blas("/nonexistent/openblas-pthread/libblas.so.3"))


if __name__ == "__main__":
    unittest.main()
