"""git exp dag: the stage graph."""
from __future__ import annotations

TYPE_CHECKING = False   # typing's, without importing typing (mypy reads the name as True)
if TYPE_CHECKING:
    import argparse

    from git_exp.ui.console import Console

DESCRIPTION = """\
Shows the stages of exp.yaml and how data flows between them: a stage
depends on another when one of its deps is one of the other's outs, lies
inside it or contains it. With STAGE, only that stage and the stages it
depends on (--downstream: the stages that depend on it).

By default the graph is drawn as text, one stage a line in the order git
exp run runs them, data flowing down, like git log --graph: * marks a
stage on its lane, |-' joins the lanes of several inputs, |-. forks to
several consumers, and <- names the paths a stage reads from the stages
above it. --dot prints Graphviz (git exp dag --dot | dot -Tsvg > dag.svg),
--mermaid a Mermaid flowchart (GitHub and GitLab draw one in a ```mermaid
block), --json the nodes (name, cmd, deps, outs, frozen) and edges (from,
to and the paths that connect them).
"""

EXAMPLES = [
    "git exp dag",
    "git exp dag train",
    "git exp dag --dot | dot -Tsvg -o dag.svg",
    "git exp dag --mermaid",
    "git exp dag --json",
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stages", nargs="*", metavar="STAGE",
                        help="only these stages and the stages they depend on")
    parser.add_argument("--downstream", action="store_true",
                        help="with STAGE: the stages that depend on it instead")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--dot", action="store_const", const="dot", dest="format",
                     help="print Graphviz dot")
    how.add_argument("--mermaid", action="store_const", const="mermaid", dest="format",
                     help="print a Mermaid flowchart")
    how.add_argument("--json", action="store_const", const="json", dest="format",
                     help="print the nodes and edges as JSON")


def run(args: argparse.Namespace, console: Console) -> int:
    from git_exp.pipeline import dagtext
    from git_exp.pipeline.spec import load_pipeline
    from git_exp.repo import discover
    dag = dagtext.build(load_pipeline(discover().root), args.stages or None, args.downstream)
    if args.format == "json":
        import json
        console.out(json.dumps(dagtext.data(dag), indent=2))
    elif args.format == "dot":
        console.out(dagtext.dot(dag))
    elif args.format == "mermaid":
        console.out(dagtext.mermaid(dag))
    else:
        from git_exp.ui.console import terminal_size
        width = terminal_size().columns if console.stdout.isatty() else 10 ** 6
        console.page(dagtext.ascii_art(dag, max(width, 40)))
    return 0
