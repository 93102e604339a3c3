"""`rducc opt`: xDSL's opt main (`xdsl-opt`) with rducc's dialects and passes registered.

Everything a pass developer expects from xdsl-opt comes from xDSL itself: `-p` pipelines with
xDSL's generic passes (`canonicalize`, `dce`, `cse`) beside ours, `--print-between-passes`,
`--verify-diagnostics`, `--split-input-file`, `--print-op-generic`, `--time-passes`. What this
subclass adds is rducc's conventions:

- the dialects are exactly the compiler's (`dialects.make_context`), so foreign ops fail to parse;
- the module is verified before the first pass and after each, and a failure names the pass,
  the op and its location (`passes.registry.verifying_callback`), as in the compile path;
- locations are printed whenever the IR carries them (`--print-debuginfo` forces them);
- with `-o`, the output is produced in memory and handed back, so the CLI writes it atomically
  and an error leaves nothing behind (without `-o` it streams to stdout, as xdsl-opt's does, so
  `--print-between-passes` and `--verify-diagnostics` output interleave with it in order);
- the input may be any text file (not only `.mlir`), and `-` is stdin.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import ArgSpecParseError
from xdsl.xdsl_opt_main import xDSLOptMain

from compiler.textual_ir import PositionRecordingParser
from dialects import make_context
from passes import registry
from passes.verification import carries_locations


class _KeptOpen(io.StringIO):
    """xDSL closes the output stream when it is done; the text is read after that."""

    def close(self) -> None:
        pass


class RduccOptMain(xDSLOptMain):
    version_format = "rducc opt (xDSL {xdsl_version})"

    def __init__(self, args: Sequence[str] | None = None):
        self.output = _KeptOpen()
        self._chunk_line_offset = 0
        super().__init__(description="Run passes on rducc's textual IR (xdsl-opt with rducc's dialects and passes).",
                         args=args)

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        arg_parser.prog = "rducc opt"
        super().register_all_arguments(arg_parser)
        arg_parser.add_argument("--no-print-debuginfo", dest="print_debuginfo", action="store_false",
                                help="Never print locations (default: print them when the IR has any).")
        # Default: print locations when the IR has any (decided in output_resulting_program).
        arg_parser.set_defaults(print_debuginfo=None)

    def register_all_dialects(self) -> None:
        for dialect in make_context().loaded_dialects:
            self.ctx.load_dialect(dialect)

    def register_all_passes(self) -> None:
        for name, loader in registry.all_passes().items():
            self.register_pass(name, loader)

    def register_all_frontends(self) -> None:
        def parse_mlir(stream: IO[bytes]) -> ModuleOp:
            parser = PositionRecordingParser(self.ctx, stream.read(), self.get_input_name(),
                                             line_offset=self._chunk_line_offset)
            return parser.parse_module(not self.args.no_implicit_module)

        self.available_frontends["mlir"] = parse_mlir

    def parse_chunk(self, chunk: IO[bytes], file_extension: str, start_offset: int = 0) -> ModuleOp | None:
        self._chunk_line_offset = start_offset  # so ops of a --split-input-file chunk get the file's line numbers
        return super().parse_chunk(chunk, file_extension, start_offset)

    def get_input_stream(self) -> tuple[IO[bytes], str]:
        if self.args.input_file == "-":
            self.args.input_file = None
        stream, extension = super().get_input_stream()
        # Any text is textual IR (a .txt from a bug report, a file without extension).
        return stream, extension if extension in self.available_frontends else "mlir"

    def setup_pipeline(self) -> None:
        try:
            super().setup_pipeline()
        except (Exception, ArgSpecParseError) as exc:  # ArgSpecParseError is a BaseException
            raise registry.bad_pipeline(self.args.passes, exc) from None
        self.pipeline = type(self.pipeline)(
            self.pipeline.passes,
            registry.verifying_callback(then=self.pipeline.callback, verify=not self.args.disable_verify))

    def apply_passes(self, prog: ModuleOp) -> None:
        registry.apply_pipeline(self.ctx, prog, self.pipeline)

    def prepare_output(self) -> IO[str]:
        return sys.stdout if self.args.output_file is None else self.output

    def output_resulting_program(self, prog: ModuleOp) -> str:
        forced = self.args.print_debuginfo
        self.args.print_debuginfo = carries_locations(prog) if forced is None else forced
        try:
            return super().output_resulting_program(prog)
        finally:
            self.args.print_debuginfo = forced

    def run_to_text(self) -> str:
        """Run xDSL's main loop; return what it would have written to `-o` (nothing if streamed to stdout)."""
        self.run()
        return self.output.getvalue()
