"""The fused stages of a ``pipelines.curate`` run: what the FnApiRunner executes, one stage per fused step.

    python -m benchmarks.fused_stages [--record] [-- CURATE OPTIONS]

Builds the run's pipeline (default options, the built-in sample unless ``--input``/``--sources`` are
given after ``--``) and runs the FnApiRunner's own fusion phases on it (``FnApiRunner.create_stages``,
the step before execution) without executing anything. Every stage boundary is a materialised
collection (a shuffle, a side input or a flatten): a stage that only passes data along to the next
costs a write and a read of everything it holds. Printed: the number of stages and, for each, the
top-level transforms fused into it.
"""
from __future__ import annotations

import argparse
import sys
import tempfile

from benchmarks.results import add_record_argument, record


def fused_stages(curate_argv: list[str]) -> list[list[str]]:
    """The stages of the run ``curate_argv`` describes, each as the top-level transforms fused into it."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from pipelines.curate import build_pipeline, resolve_sources
    from pipelines.options import CurateOptions, parse_stage_list
    from transforms.read.inputs import match_inputs

    with tempfile.TemporaryDirectory(prefix="fused-stages-") as work:
        options = PipelineOptions([f"--lake={work}/lake", *curate_argv])
        opts = options.view_as(CurateOptions)
        sources, _ = resolve_sources(opts, f"{work}/sample")
        p = beam.Pipeline(runner=FnApiRunner(), options=options)
        build_pipeline(p, match_inputs(sources), f"{work}/staging", opts, parse_stage_list(opts.disable))
        proto = p.to_runner_api()
        _, stages = FnApiRunner().create_stages(proto)
    names = {t_id: t.unique_name for t_id, t in proto.components.transforms.items()}
    out = []
    for stage in stages:
        tops = []
        for t in stage.transforms:
            top = (names.get(t.unique_name) or t.unique_name).split("/")[0]
            if top not in tops:
                tops.append(top)
        out.append(tops)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own, curate_argv = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_record_argument(parser)
    args = parser.parse_args(own)
    stages = fused_stages(curate_argv)
    for k, tops in enumerate(stages, 1):
        print(f"{k:3d}  {', '.join(tops)}")
    print(f"fused stages: {len(stages)}")
    if args.record:
        record("fused_stages", section="Pipeline graph", figures={"fused_stages": len(stages)},
               rows=[{"what": "fused stages of the default curate run (FnApiRunner)", "result": str(len(stages)),
                      "baseline": "-"}], options={"curate_argv": curate_argv})
    return 0


if __name__ == "__main__":
    sys.exit(main())
