"""Builds textrecipes with the shipped recipes and sample files inside the wheel (metadata: setup.cfg).

The repository keeps them at the top level (recipes/, data/samples/), where a
user of a source checkout finds them; a wheel has no top level, so `build_py`
copies them into textrecipes/_shipped/, where `textrecipes.resources` looks first.
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCES = {"recipes": "recipes", "samples": os.path.join("data", "samples")}


class BuildWithResources(build_py):
    """`build_py`, then the top-level recipes and samples copied into the built package."""

    def run(self):
        super().run()
        here = os.path.dirname(os.path.abspath(__file__))
        for name, source in RESOURCES.items():
            target = os.path.join(self.build_lib, "textrecipes", "_shipped", name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(os.path.join(here, source), target)


setup(cmdclass={"build_py": BuildWithResources})
