"""The picture of the curation DAG (docs/dag.svg), drawn from the pipeline ``curate.py`` really builds.

``stage_nodes`` builds the Beam pipeline of ``pipelines.curate.build_pipeline`` without running it
and lists its stages in the order they are applied, so the picture follows the code: a stage added,
removed or renamed there changes the SVG, and ``tests/test_dag.py`` fails until it is regenerated.

    python -m pipelines.dag --svg docs/dag.svg
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from html import escape

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.curate import build_pipeline, stages_for
from pipelines.options import CurateOptions
from transforms.document import REMOVED
from transforms.staging import StageDocuments, WriteDocShards

TITLES = {"read": "read", "normalize": "normalise", "boilerplate": "boilerplate lines", "langid": "language id",
          "filter": "quality filters", "pii": "PII redaction", "dedup-exact": "exact dedup",
          "dedup-near": "near dedup", "StageDocuments": "stage text, dedup keys", "WriteDocShards": "write shards"}
# After the Beam job: what the launcher, the catalog and the trainer do with its output.
AFTER = (("commit v<N>", "catalog.lake.Lake.commit"), ("catalog", "python -m catalog"),
         ("training stream", "model.data.PackedStream"))


@dataclass(frozen=True)
class Node:
    title: str
    code: str  # the PTransform class, or the function that does the step
    removes: bool  # has a ``removed`` output: documents it does not keep go to the removed table
    optional: bool = False  # absent with the default options
    after: bool = False  # not a Beam stage: what happens to the job's output


def stage_nodes() -> list[Node]:
    """The stages of the pipeline built with every optional stage on, in the order they are applied."""
    with tempfile.TemporaryDirectory() as lake:
        argv = ["--lake", lake, "--boilerplate-min-docs", "2"]  # a value that switches the optional stage on
        opts = PipelineOptions(argv).view_as(CurateOptions)
        plain = PipelineOptions(["--lake", lake]).view_as(CurateOptions)
        defaults = set(stages_for([], plain, set(), f"{lake}/staging"))
        pipeline = beam.Pipeline(options=PipelineOptions([]))
        stages = build_pipeline(pipeline, [], f"{lake}/staging", opts, set())
    names = {id(stage): name for name, stage in stages.items()}
    nodes = []
    for applied in pipeline.transforms_stack[0].parts:
        transform = applied.transform
        name = names.get(id(transform))
        if name is None and isinstance(transform, (StageDocuments, WriteDocShards)):
            name = type(transform).__name__
        if name is None:
            continue  # statistics, tables and lists: not stages
        nodes.append(Node(TITLES.get(name, name), type(transform).__name__, REMOVED in applied.outputs,
                          optional=name in stages and name not in defaults))
    return nodes + [Node(title, code, removes=False, after=True) for title, code in AFTER]


BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN, PER_ROW = 170, 64, 36, 44, 16, 5


def _box(node: Node, x: int, y: int) -> list[str]:
    dash = ' stroke-dasharray="6 4"' if node.optional else ""
    fill = "#f3f6fb" if node.after else "#ffffff"
    notes = [text for text, on in (("+ removed rows", node.removes), ("optional", node.optional)) if on]
    out = [f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" stroke="#3b5b8c"'
           f' stroke-width="1.5"{dash}/>',
           f'<text x="{x + BOX_W // 2}" y="{y + 22}" class="t">{escape(node.title)}</text>',
           f'<text x="{x + BOX_W // 2}" y="{y + 39}" class="c">{escape(node.code)}</text>']
    if notes:
        out.append(f'<text x="{x + BOX_W // 2}" y="{y + 55}" class="{"r" if node.removes else "o"}">'
                   f'{", ".join(notes)}</text>')
    return out


def render_svg(nodes: list[Node]) -> str:
    """A left-to-right, row-by-row (snake) drawing: same nodes, same bytes."""
    rows = (len(nodes) + PER_ROW - 1) // PER_ROW
    width = 2 * MARGIN + PER_ROW * BOX_W + (PER_ROW - 1) * GAP_X
    legend_y = MARGIN + rows * BOX_H + (rows - 1) * GAP_Y + 26
    height = legend_y + 28
    pos = []
    for i in range(len(nodes)):
        row, col = divmod(i, PER_ROW)
        col = col if row % 2 == 0 else PER_ROW - 1 - col
        pos.append((MARGIN + col * (BOX_W + GAP_X), MARGIN + row * (BOX_H + GAP_Y)))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Arial, sans-serif">',
             "<title>The curation pipeline (python -m pipelines.dag)</title>",
             '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
             '<path d="M0,0 L8,4 L0,8 z" fill="#3b5b8c"/></marker></defs>',
             "<style>.t{font-size:14px;font-weight:bold;text-anchor:middle;fill:#1d2b40}"
             ".c{font-size:11px;font-family:DejaVu Sans Mono,monospace;text-anchor:middle;fill:#4a5568}"
             ".r{font-size:11px;text-anchor:middle;fill:#b03a2e}.o{font-size:11px;text-anchor:middle;fill:#6b7280}"
             ".l{font-size:12px;fill:#4a5568}</style>"]
    for i in range(len(nodes) - 1):
        (x0, y0), (x1, y1) = pos[i], pos[i + 1]
        if y0 == y1:  # same row: side to side, either way
            start, stop = (x0 + BOX_W, x1) if x1 > x0 else (x0, x1 + BOX_W)
            parts.append(f'<line x1="{start}" y1="{y0 + BOX_H // 2}" x2="{stop}" y2="{y1 + BOX_H // 2}" '
                         f'stroke="#3b5b8c" stroke-width="1.5" marker-end="url(#a)"/>')
        else:  # next row: down
            parts.append(f'<line x1="{x0 + BOX_W // 2}" y1="{y0 + BOX_H}" x2="{x1 + BOX_W // 2}" y2="{y1}" '
                         f'stroke="#3b5b8c" stroke-width="1.5" marker-end="url(#a)"/>')
    for node, (x, y) in zip(nodes, pos):
        parts += _box(node, x, y)
    parts.append(f'<text x="{MARGIN}" y="{legend_y}" class="l">The Beam stages of python -m pipelines.curate in '
                 'order, then what happens to their output. Dashed: optional, off by default.</text>')
    parts.append(f'<text x="{MARGIN}" y="{legend_y + 18}" class="l">Documents a stage does not keep become rows '
                 "of the version's removed table, with the stage and a reason.</text>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.dag", description=__doc__.split("\n\n")[0])
    parser.add_argument("--svg", metavar="PATH", help="write the SVG here (default: print it)")
    args = parser.parse_args(argv)
    svg = render_svg(stage_nodes())
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as f:
            f.write(svg)
    else:
        sys.stdout.write(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
