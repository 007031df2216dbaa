import XCTest
@testable import DDPLM

/// The launch rules of issue #9, from the environments measured under mpirun, srun --mpi=pmix and
/// srun --mpi=none (Debian 12: slurm-wlm 22.05, OpenMPI 4.1, PMIx 4.2).
final class LaunchEnvironmentTests: XCTestCase {
    func launch(_ env: [String: String], online: Int = 8, affinity: Int = 8) -> LaunchEnvironment {
        LaunchEnvironment(environment: env, onlineCores: online, affinityCores: affinity)
    }

    func testKindsAndRanks() {
        XCTAssertEqual(launch([:]).kind, .single)
        let mpirun = launch(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "3", "OMPI_COMM_WORLD_LOCAL_SIZE": "2",
                             "PMIX_RANK": "3", "SLURM_PROCID": "0", "SLURM_STEP_ID": "0"])  // mpirun inside sbatch
        XCTAssertEqual(mpirun.kind, .mpirun)
        XCTAssertEqual(mpirun.rank, 3, "SLURM_PROCID is 0 on every rank under mpirun: never use it")
        XCTAssertEqual(mpirun.size, 4)
        let srun = launch(["PMIX_RANK": "1", "SLURM_PROCID": "1", "SLURM_STEP_ID": "0", "SLURM_NODEID": "1",
                           "SLURM_STEP_NUM_TASKS": "5", "SLURM_STEP_TASKS_PER_NODE": "3,2"])
        XCTAssertEqual(srun.kind, .srun)
        XCTAssertEqual(srun.rank, 1)
        XCTAssertEqual(srun.localRanks, 2)
        XCTAssertEqual(srun.size, 5)
        XCTAssertNil(srun.refusal)
    }

    /// MPICH's (and Intel MPI's) Hydra mpiexec, as measured under `mpiexec.mpich -n 2` (MPICH 4.0).
    func testHydraMpiexec() {
        let hydra = launch(["PMI_RANK": "1", "PMI_SIZE": "3", "PMI_FD": "8", "MPI_LOCALNRANKS": "3", "MPI_LOCALRANKID": "1"], online: 6, affinity: 6)
        XCTAssertEqual(hydra.kind, .pmi)
        XCTAssertTrue(hydra.usesMPI)
        XCTAssertEqual(hydra.rank, 1)
        XCTAssertEqual(hydra.size, 3)
        XCTAssertEqual(hydra.localRanks, 3)
        XCTAssertEqual(hydra.threads(requested: nil).count, 2, "6 cores ÷ 3 ranks on this host")
    }

    func testSrunWithoutMPIIsRefused() {
        let none = launch(["SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "1", "SLURM_NTASKS": "2"])
        XCTAssertEqual(none.kind, .single)
        XCTAssertTrue(none.refusal?.contains("srun --mpi=pmix") ?? false)
        // a batch script's own shell (no step) with --ntasks=2 runs one process: fine
        XCTAssertNil(launch(["SLURM_JOB_ID": "7", "SLURM_NTASKS": "2"]).refusal)
        XCTAssertNil(launch(["SLURM_STEP_ID": "0", "SLURM_STEP_NUM_TASKS": "1"]).refusal)
    }

    func testThreadsPerRank() {
        let srun = ["PMIX_RANK": "0", "SLURM_STEP_ID": "0", "SLURM_STEP_TASKS_PER_NODE": "2(x2)", "SLURM_NODEID": "1"]
        XCTAssertEqual(launch(srun).threads(requested: nil).count, 4, "8 cores ÷ 2 tasks on this node")
        XCTAssertEqual(launch(srun.merging(["SLURM_CPUS_PER_TASK": "3"]) { $1 }).threads(requested: nil).count, 3)
        XCTAssertEqual(launch(srun.merging(["OPENBLAS_NUM_THREADS": "1"]) { $1 }).threads(requested: nil).count, 1)
        XCTAssertEqual(launch(srun).threads(requested: 5).count, 5)
        let mpirun = ["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_SIZE": "4", "SLURM_CPUS_PER_TASK": "8"]
        XCTAssertEqual(launch(mpirun).threads(requested: nil).count, 2, "mpirun: cores ÷ local ranks, not sbatch's -c")
        XCTAssertEqual(launch(mpirun, affinity: 1).threads(requested: nil).count, 1, "bound to one core")
        XCTAssertEqual(launch([:], online: 2, affinity: 2).threads(requested: nil).count, 2)
    }

    func testSlurmTaskListParsing() {
        XCTAssertEqual(LaunchEnvironment.tasksOnNode("2(x3),1", node: 2), 2)
        XCTAssertEqual(LaunchEnvironment.tasksOnNode("2(x3),1", node: 3), 1)
        XCTAssertEqual(LaunchEnvironment.tasksOnNode("4", node: 0), 4)
        XCTAssertNil(LaunchEnvironment.tasksOnNode("4", node: 1))
        XCTAssertNil(LaunchEnvironment.tasksOnNode("x", node: 0))
    }
}
