"""bench/bench_ref.py's judging of a ratio: which goals a line gets, how it is
printed, and when the loaded BLAS is the reference one (no PyTorch needed)."""
import io
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


class FakeSides:
    """Stands in for the bench program and torch_ref.py: records the order of the runs and answers with
    rates from a table {(side, workload, round): rate}."""

    def __init__(self, rates):
        self.rates, self.calls, self.rounds = rates, [], {}

    def run(self, cmd, env=None):
        w = cmd[cmd.index("--only") + 1]
        r = self.rounds.get(w, 0)
        self.rounds[w] = r + 1
        self.calls.append(("ours", w))
        return ("bench cpu_isa=avx2 peak_gflops_1core=100.0 library=0.1.0\n"
                "bench workload=%s threads=1 steps_per_sec=%.1f\n" % (w, self.rates[("ours", w, r)]))

    def torch_rates(self, python, workloads, omp, blas, seconds):
        (w,) = workloads
        self.calls.append(("torch", w))
        return {(w, omp): self.rates[("torch", w, self.rounds[w] - 1)]}, "/x/openblas-pthread/libblas.so.3"


class MeasureTest(unittest.TestCase):
    def measure(self, fake, workloads, rounds, out=None):
        saved = bench_ref.run, bench_ref.torch_rates
        bench_ref.run, bench_ref.torch_rates = fake.run, fake.torch_rates
        try:
            return bench_ref.measure("bench", "python3", workloads, 1, rounds, 1.0, out or io.StringIO())
        finally:
            bench_ref.run, bench_ref.torch_rates = saved

    def test_each_workload_is_measured_right_before_pytorchs(self):
        fake = FakeSides({("ours", "tiny", 0): 10, ("torch", "tiny", 0): 5, ("ours", "wide", 0): 6,
                          ("torch", "wide", 0): 6})
        self.measure(fake, ["tiny", "wide"], 1)
        self.assertEqual(fake.calls, [("ours", "tiny"), ("torch", "tiny"), ("ours", "wide"), ("torch", "wide")])

    def test_rounds_alternate_the_two_sides(self):
        fake = FakeSides({(side, "wide", r): 6 for side in ("ours", "torch") for r in range(3)})
        ours, torch, _ = self.measure(fake, ["wide"], 3)
        self.assertEqual(fake.calls, [("ours", "wide"), ("torch", "wide")] * 3)
        self.assertEqual(len(ours[("wide", 1)]), 3)

    def test_bench_header_is_written_once(self):
        fake = FakeSides({(side, w, 0): 6 for side in ("ours", "torch") for w in ("tiny", "wide")})
        out = io.StringIO()
        self.measure(fake, ["tiny", "wide"], 1, out)
        self.assertEqual(out.getvalue().count("bench cpu_isa="), 1)


class LineTest(unittest.TestCase):
    def test_ratio_is_the_median_of_the_rounds_ratios(self):
        # Ratios 2.0, 1.0, 1.5: their median is 1.5; the ratio of the median rates (6 / 6) would be 1.0.
        ours = [8.0, 6.0, 3.0]
        torch = [(4.0, "omp1_blas1"), (6.0, "omp1_blas1"), (2.0, "omp1_blas1")]
        _, ratio = bench_ref.ref_line("wide", 1, ours, torch)
        self.assertEqual(ratio, 1.5)

    def test_line_with_rounds_shows_their_range(self):
        text, _ = bench_ref.ref_line("wide", 1, [8.0, 6.0], [(4.0, "omp1_blas1"), (6.0, "omp1_blas1")])
        self.assertTrue(text.endswith(" rounds=2 ratio_min=1.00 ratio_max=2.00"), text)

    def test_line_of_one_round_has_no_range(self):
        text, ratio = bench_ref.ref_line("wide", 1, [6.0], [(5.0, "omp1_blas1")])
        self.assertNotIn("rounds=", text)
        self.assertAlmostEqual(ratio, 1.2)


if __name__ == "__main__":
    unittest.main()
