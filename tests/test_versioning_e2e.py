"""Worker versioning from settings: a worker given a deployment name and build id polls as that
version, and cases run on it once it is the deployment's current version."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.support import claim, eventually, new_order, serving
from wiring.temporal import build_worker, case_activities, deployment


def test_versioning_is_off_unless_both_settings_are_given() -> None:
    assert deployment(Settings()) is None
    assert deployment(Settings(worker_deployment="disputes")) is None
    config = deployment(Settings(worker_deployment="disputes", worker_build_id="2026.11.26-1"))
    assert config is not None and config.use_worker_versioning
    assert (config.version.deployment_name, config.version.build_id) == ("disputes", "2026.11.26-1")


async def test_a_versioned_worker_runs_cases_once_its_version_is_current(
    dev_server_env: WorkflowEnvironment, settings: Settings, engine: AsyncEngine
) -> None:
    client = dev_server_env.client
    name, build = f"disputes-{uuid.uuid4().hex[:8]}", "build-1"
    settings = settings.model_copy(update={"worker_deployment": name, "worker_build_id": build})
    activities = case_activities(settings, client, engine)
    async with (
        build_worker(client, settings, activities, engine),
        serving(settings, dev_server_env, worker=False, engine=engine) as api,
    ):

        async def current() -> bool:
            try:
                await client.workflow_service.set_worker_deployment_current_version(
                    SetWorkerDeploymentCurrentVersionRequest(
                        namespace=client.namespace, deployment_name=name, build_id=build, identity="test"
                    )
                )
            except RPCError:
                return False  # the version appears once its worker has polled
            return True

        await eventually(current, seconds=30)
        opened = await api.post("/v1/disputes", json=claim(new_order()))
        dispute_id = opened.json()["id"]
        accepted = await api.post(
            f"/v1/disputes/{dispute_id}/accept", json={"actor": {"role": "seller", "id": "s-1"}}
        )
        assert accepted.status_code == 200, accepted.text

        async def resolved() -> bool:
            return bool((await api.get(f"/v1/disputes/{dispute_id}")).json()["status"] == "RESOLVED")

        await eventually(resolved)
        described = await client.get_workflow_handle(dispute_id).describe()
        versioning = described.raw_description.workflow_execution_info.versioning_info
        assert versioning.deployment_version.deployment_name == name
        assert versioning.deployment_version.build_id == build
