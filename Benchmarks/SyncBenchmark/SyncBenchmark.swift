import Foundation
import PostgresNIO
import ServiceKit
import StripeSync
import TestSupport

/// `make bench-sync`: a real `stripe-sync worker` process syncs a generated account from the sandbox (its own
/// process too), rate limit off. Prints objects copied per second, the worker's peak memory, and the time to
/// recompute 365 days of snapshots, as the worker logs them.
@main
struct SyncBenchmark {
    static func main() async throws {
        let sizes = CommandLine.arguments.dropFirst().compactMap { Int($0) }
        let customers = sizes.count > 0 ? sizes[0] : 20_000
        let subscriptions = sizes.count > 1 ? sizes[1] : 25_000
        let invoices = sizes.count > 2 ? sizes[2] : 150_000
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let account = "acct_bench_" + UUID().uuidString.prefix(8).lowercased()

        print("account:  \(customers) customers, \(subscriptions) subscriptions, \(invoices) invoices, \(invoices) charges")
        let sandboxPort = TestSupport.freePort()
        let sandbox = try await ServiceProcess(
            product: "sandbox",
            arguments: [],
            port: sandboxPort,
            environment: [
                "SANDBOX_PORT": String(sandboxPort), "SANDBOX_CONNECT_ACCOUNT": "\(account):\(customers):\(subscriptions):\(invoices)",
                "LOG_LEVEL": "error",
            ],
            binaries: binaries
        )
        let connectionID = UUID()
        try await TestSupport.withPostgres { client in
            try await StripeSyncService.descriptor.migrate(on: client, logger: TestSupport.logger)
            try await client.query(
                """
                INSERT INTO sync.stripe_connections (id, user_id, stripe_account_id, access_token_ciphertext, token_key_id, sync_status)
                VALUES (\(connectionID), 'benchmark', \(account), 'sealed', 'k1', 'queued')
                """,
                logger: TestSupport.logger
            )
            try await client.query(
                "INSERT INTO sync.sync_jobs (id, connection_id, kind) VALUES (\(UUID()), \(connectionID), 'full')",
                logger: TestSupport.logger
            )
        }

        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("bench-sync-\(UUID().uuidString).log").path
        FileManager.default.createFile(atPath: logPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        let workerPort = TestSupport.freePort()
        let worker = try await ServiceProcess(
            product: "stripe-sync",
            arguments: ["worker"],
            port: workerPort,
            environment: TestSupport.stripeSyncProcessEnvironment(port: workerPort, stripe: sandbox.baseURL).merging([
                "STRIPE_SYNC_RATE": "0",
                "INSIGHTS_USAGE_URL": "http://127.0.0.1:\(TestSupport.refusingPort)",
                "LOG_LEVEL": "info",
            ]) { $1 },
            binaries: binaries,
            output: FileHandle(forWritingAtPath: logPath)!
        )
        try await waitForSync(connectionID)
        let peakKilobytes = worker.memoryKilobytes("VmHWM")
        let cpuSeconds = worker.cpuSeconds
        try await worker.stop()
        try await sandbox.stop()

        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        guard let finished = log.split(separator: "\n").last(where: { $0.contains("sync finished") }),
            let copySeconds = value("copy_seconds", in: finished), let snapshotSeconds = value("snapshot_seconds", in: finished)
        else { throw BenchmarkFailure(reason: "the worker did not log its timings") }
        let objects = customers + subscriptions + 2 * invoices
        print("copied:   \(objects) objects in \(String(format: "%.1f", copySeconds)) s, \(Int(Double(objects) / copySeconds)) objects/s")
        print("memory:   worker peak \(peakKilobytes / 1024) MB (VmHWM)")
        // On a shared machine wall time swings with the neighbours; the worker's own CPU time much less.
        print("cpu:      worker \(String(format: "%.1f", cpuSeconds)) s user+system for the whole sync")
        print("metrics:  365 days of snapshots recomputed in \(String(format: "%.2f", snapshotSeconds)) s")
    }

    static func waitForSync(_ connectionID: UUID) async throws {
        try await TestSupport.eventually("the sync to finish", timeout: .seconds(3_600)) {
            try await TestSupport.withPostgres { client in
                for try await status in try await client.query(
                    "SELECT sync_status FROM sync.stripe_connections WHERE id = \(connectionID)",
                    logger: TestSupport.logger
                ).decode(String.self) {
                    if status == "failed" || status == "retrying" { throw BenchmarkFailure(reason: "the sync failed; see the worker's log") }
                    return status == "synced"
                }
                return false
            }
        }
    }

    /// A `key=value` from a log line.
    static func value(_ key: String, in line: Substring) -> Double? {
        guard let range = line.range(of: key + "=") else { return nil }
        return Double(line[range.upperBound...].prefix { $0.isNumber || $0 == "." })
    }
}
