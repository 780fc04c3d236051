"""`edgec flash`: write a built firmware to a board, with the back end the target names."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from toolchain.cli.options import resolve_target, target_options


@click.command()
@target_options
@click.argument("firmware", type=click.Path(exists=True, path_type=Path))
@click.option("--port", "-p", default="", help="Serial port (esptool; {port} in command templates).")
@click.option("--probe", default="", help="Debug probe unique ID (pyOCD), when several are connected.")
@click.option("--drive", type=click.Path(file_okay=False, path_type=Path),
              help="Mount point of the board's drive (default: found by its volume label).")
@click.option("--dry-run", is_flag=True, help="Check and print what would be done; write nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="Print what was done as JSON on stdout (not with the emulator, which keeps running).")
def flash(target, target_file, firmware, port, probe, drive, dry_run, as_json):
    """Write FIRMWARE (a folder from `edgec build --firmware`, or an .elf/.bin/.hex) to the board.

    The target profile chooses how: pyOCD (CMSIS-DAP, ST-Link, J-Link), esptool, copying to the
    board's USB drive (DAPLink, UF2), a command template, or QEMU (which runs the firmware and
    prints its serial port, for `edgec bench --port`). Every check (the image fits, the probe,
    port or drive is there, the chip is the right one) is done before anything is written.

    \b
    Example:
      edgec flash --target nucleo-h743zi out/firmware
      edgec flash --target cortex-m7 out/firmware      # QEMU; Ctrl-C stops it
    """
    from toolchain.device.flashers import FirmwareImage, FlashOptions, flasher_for
    from toolchain.report.flash_report import FlashReport

    profile = resolve_target(target, target_file)
    image = FirmwareImage.from_dir(firmware, profile)
    options = FlashOptions(port=port, probe=probe, drive=str(drive or ""), dry_run=dry_run)
    flasher = flasher_for(profile, options)
    result = flasher.flash(image)
    report = FlashReport.of(profile, flasher, image, result, dry_run)
    if profile.flasher == "qemu" and not dry_run:
        _serve_emulator(profile, result.plan, report, as_json)
    elif as_json:
        click.echo(report.to_json(), nl=False)
    else:
        for line in report.lines():
            click.echo(line)


def _serve_emulator(profile, plan, report, as_json: bool):
    """Run the plan's QEMU command until Ctrl-C; its serial port is told (as JSON with --json)."""
    from toolchain.device.emulator import QemuRunner

    with QemuRunner.from_command(plan.command) as runner:
        report = report.running_on(profile.emulator.machine, runner.url)
        if as_json:
            click.echo(report.to_json(), nl=False)
        else:
            for line in report.lines():
                click.echo(line)
        sys.stdout.flush()
        try:
            runner.proc.wait()
        except KeyboardInterrupt:
            click.echo("stopping QEMU", err=True)
            raise
