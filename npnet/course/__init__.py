"""Course tooling: release an assignment to students, collect their work, grade it, export to Gradescope.

- :mod:`.markers`: the ``# BEGIN SOLUTION`` / ``# END SOLUTION`` blocks and their stubs.
- :mod:`.manifest` and ``assignments/``: one manifest per assignment (what is stripped, shipped, graded).
- :mod:`.release`: the student tree, with every exercise also as a notebook; refuses to ship a leak.
- :mod:`.grade` (+ :mod:`.child`): item-by-item grading in subprocesses against the instructor's
  reference on seeded inputs; :mod:`.diagnose`: what a wrong output's mistake probably is.
- :mod:`.bundle`: the student's ``collect`` zip and Gradescope's autograder zip.
- :mod:`.commands`: ``npnet course release | collect | grade | gradescope``.

Adding an assignment (e.g. the GANs or a classifier/training assignment) is one new file
``npnet/course/assignments/<name>.py`` defining ``ASSIGNMENT = Assignment(...)``:

1. mark the student's code in the package with ``# BEGIN SOLUTION`` / ``# END SOLUTION`` (inside
   functions, markers indented like the code);
2. ``strip``: ``{"npnet/gan/losses.py": ("discriminator_loss", "generator_loss"), ...}`` (methods as
   ``Class.method``); these files are what students hand in. Strip every function whose filled-in
   block would give the answer away (a naive twin, a shared helper): the release refuses to ship a
   line of a stripped block anywhere, and says which file and line;
3. ``exercises`` (scripts in ``exercises/``, each shipped with a notebook), ``public_tests`` (files in
   ``tests/``), ``gradcheck`` (the families the student's ``python -m gradcheck`` should run);
4. ``items``: :class:`~.manifest.Item`\\ s, each ``inputs(rng) -> dict`` of small float64 arrays and
   ``run(inputs, out)`` calling the functions and storing each graded output in ``out`` under a part
   name worth ``points``; ``layer_pair`` builds ``run`` for a forward/backward pair. Name the stripped
   functions an item uses (``functions``) and, for better feedback, the batch input (``batch``), the
   upstream gradient of each backward part (``upstream``) and known scale factors (``factors``);
5. add the planted-mistake cases to ``tests/test_course_grade.py``: the proof tests run every manifest.
"""
