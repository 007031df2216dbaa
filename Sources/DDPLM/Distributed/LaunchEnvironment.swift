import CKernels

/// How this process was started, read from the launcher's environment: alone, by `mpirun` (OpenMPI's
/// OMPI_COMM_WORLD_*), by `srun --mpi=pmix` (PMIx plus SLURM_*, and no OMPI_* at all), or by another
/// PMI launcher (MPICH's and Intel MPI's Hydra `mpiexec`: PMI_RANK, PMI_SIZE, MPI_LOCALNRANKS). It decides whether to start MPI, refuses the one launch that would silently go wrong
/// (several Slurm tasks with no MPI world), and picks the threads per rank. A pure function of the
/// environment and the core counts, so it is unit-tested.
public struct LaunchEnvironment: Sendable {
    public enum Kind: String, Sendable { case single = "single process", mpirun, srun = "srun (PMIx)", pmi = "PMI launcher" }

    public let kind: Kind
    /// The launcher's rank for this process (before MPI starts; MPI's own rank is authoritative).
    public let rank: Int
    /// Ranks in the job and on this host, as far as the launcher says.
    public let size: Int
    public let localRanks: Int
    let env: [String: String]
    let onlineCores: Int
    let affinityCores: Int

    public init(environment env: [String: String], onlineCores: Int, affinityCores: Int) {
        self.env = env
        self.onlineCores = max(1, onlineCores)
        self.affinityCores = max(1, min(affinityCores, onlineCores))
        func int(_ k: String) -> Int? { env[k].flatMap { Int($0) } }
        if env["OMPI_COMM_WORLD_SIZE"] != nil {
            kind = .mpirun
            rank = int("OMPI_COMM_WORLD_RANK") ?? 0
            size = int("OMPI_COMM_WORLD_SIZE") ?? 1
            localRanks = int("OMPI_COMM_WORLD_LOCAL_SIZE") ?? 1
        } else if env["PMIX_RANK"] != nil && env["SLURM_STEP_ID"] != nil {
            kind = .srun
            rank = int("PMIX_RANK") ?? 0   // never SLURM_PROCID: it is 0 on every rank under mpirun in sbatch
            size = int("SLURM_STEP_NUM_TASKS") ?? int("SLURM_NTASKS") ?? 1
            localRanks = LaunchEnvironment.tasksOnNode(env["SLURM_STEP_TASKS_PER_NODE"], node: int("SLURM_NODEID") ?? 0) ?? 1
        } else if env["PMIX_RANK"] != nil || env["PMI_RANK"] != nil {
            kind = .pmi
            rank = int("PMIX_RANK") ?? int("PMI_RANK") ?? 0
            size = int("PMI_SIZE") ?? 1
            localRanks = int("PMI_LOCAL_SIZE") ?? int("MPI_LOCALNRANKS") ?? 1
        } else {
            kind = .single
            rank = 0
            size = 1
            localRanks = 1
        }
    }

    /// This process, from its real environment and cores.
    public static func current(_ environment: [String: String]) -> LaunchEnvironment {
        LaunchEnvironment(environment: environment, onlineCores: Int(ddplm_online_cores()), affinityCores: Int(ddplm_affinity_cores()))
    }

    public var usesMPI: Bool { kind != .single }

    /// Why this process must not start: it is one of several tasks of a Slurm step, but no MPI world
    /// joins them (`srun --mpi=none`, or a Slurm without PMIx), so each would train alone into the same
    /// run directory.
    public var refusal: String? {
        guard kind == .single, let n = env["SLURM_STEP_NUM_TASKS"].flatMap({ Int($0) }), n > 1 else { return nil }
        return "this is one of \(n) Slurm tasks but no MPI world joins them (srun --mpi=none?); launch with `srun --mpi=pmix`, or run one task"
    }

    /// Threads per rank and why: explicit, else $OPENBLAS_NUM_THREADS, else Slurm's --cpus-per-task,
    /// else the cores this process may run on — all of them when the launcher bound it to a subset,
    /// otherwise the host's cores shared among the ranks on it.
    public func threads(requested: Int?) -> (count: Int, reason: String) {
        if let r = requested { return (r, "--threads \(r)") }
        if let s = env["OPENBLAS_NUM_THREADS"], let v = Int(s), v > 0 { return (v, "OPENBLAS_NUM_THREADS=\(v)") }
        if kind == .srun, let s = env["SLURM_CPUS_PER_TASK"], let v = Int(s), v > 0 { return (v, "SLURM_CPUS_PER_TASK=\(v)") }
        if affinityCores < onlineCores {
            return (affinityCores, "bound to \(affinityCores) of \(onlineCores) cores")
        }
        let n = max(1, onlineCores / max(1, localRanks))
        return (n, localRanks > 1 ? "\(onlineCores) cores ÷ \(localRanks) ranks on this host" : "\(onlineCores) cores")
    }

    /// Tasks on node `node` from Slurm's compressed list, e.g. "2(x3),1" = 2, 2, 2, 1.
    static func tasksOnNode(_ list: String?, node: Int) -> Int? {
        guard let list else { return nil }
        var counts: [Int] = []
        for part in list.split(separator: ",") {
            if let open = part.firstIndex(of: "("), let n = Int(part[..<open]),
               let reps = Int(part[part.index(open, offsetBy: 2)...].dropLast()) {
                counts += Array(repeating: n, count: reps)
            } else if let n = Int(part) {
                counts.append(n)
            } else {
                return nil
            }
        }
        return node < counts.count ? counts[node] : nil
    }
}
