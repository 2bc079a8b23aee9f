"""The pipeline of one job, the same for ``cgseq run`` and :func:`cgseq.run`.

:func:`~cgseq.pipeline.run.run_spec` reads top-down as the steps it takes:

1. **queue up** for the slot (a nested run skips the queue: :mod:`~cgseq.pipeline.inline`);
2. **wait**; once next in line, **prepare** (:class:`~cgseq.pipeline.job.Job`: backend,
   group and the job's first process, held) while the holder still runs;
3. **hold the turn**: first **clean up after a dead holder**
   (:mod:`~cgseq.pipeline.recovery`);
4. **supervise attempts** (:mod:`cgseq.supervise`), **hand the turn on** the moment the
   last attempt ends;
5. the **result** (:class:`~cgseq.result.JobResult`), recorded in the history.

The pipeline never prints: it reports through the callbacks of its
:class:`~cgseq.pipeline.run.RunContext`. It asks backends what they can do
(:class:`~cgseq.backends.base.Capabilities`), never which one they are.
"""
