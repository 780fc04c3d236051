"""Projects a person compiles: the model as a CMake library, a plain Makefile or an Arduino library.

`render_project(kind, model, target)` is pure (value in, file texts out) and deterministic: the
same engine, target and sample give the same bytes. See emit.py for what each project holds.
"""
from firmware_export.project.emit import (PROJECT_KINDS, ProjectModel, ProjectSources, project_folder,
                                          render_project, sample_input)

__all__ = ["PROJECT_KINDS", "ProjectModel", "ProjectSources", "project_folder", "render_project", "sample_input"]
