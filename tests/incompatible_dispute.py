"""A deliberately incompatible change to the dispute workflow, for the replay check's test: the
same workflow type, but a timer before everything it did before (a new command first in line)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.dispute import Outcome
    from workflows.dispute import DisputeRun, DisputeWorkflow


@workflow.defn(name="DisputeWorkflow")
class ReorderedDisputeWorkflow(DisputeWorkflow):
    """``DisputeWorkflow`` that first waits a minute: open cases made by the real one cannot replay."""

    @workflow.run
    async def run(self, run: DisputeRun) -> Outcome:
        """A new first command, then the dispute as before."""
        await workflow.sleep(timedelta(minutes=1), summary="a step the running cases never had")
        return await self._run_case()
