import AsyncHTTPClient
import Foundation

/// A service binary run as its own process, for tests that kill it the hard way.
public final class ServiceProcess: @unchecked Sendable {
    let process = Process()
    public let port: Int

    /// Starts `<binaries>/<product> <arguments>` with `environment` (plus PATH), its log going to `output`, and waits
    /// until its `/health` answers.
    public init(
        product: String,
        arguments: [String] = ["serve"],
        port: Int,
        environment: [String: String],
        binaries: URL = TestSupport.repositoryRoot.appendingPathComponent(".build/debug"),
        output: FileHandle = .nullDevice
    ) async throws {
        self.port = port
        process.executableURL = binaries.appendingPathComponent(product)
        process.arguments = arguments
        process.environment = environment.merging(["PATH": ProcessInfo.processInfo.environment["PATH"] ?? ""]) { $1 }
        process.standardOutput = output
        try process.run()
        try await TestSupport.withHTTPClient { http in
            try await TestSupport.eventually("\(product) to answer /health") {
                guard self.process.isRunning else { throw ProcessExited(product: product) }
                let response = try? await http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(1))
                return response?.status == .ok
            }
        }
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// A `/proc/<pid>/status` memory figure in kilobytes: `VmRSS` (resident now) or `VmHWM` (resident at its peak).
    public func memoryKilobytes(_ field: String) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// User plus system time so far, from `/proc/<pid>/stat` (fields 14 and 15, in clock ticks).
    public var cpuSeconds: Double {
        let stat = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)) ?? ""
        // The command name, in parentheses, may hold spaces: count fields after its closing one.
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// SIGKILL: no graceful shutdown, in-flight work is simply lost.
    public func kill() async throws {
        Foundation.kill(process.processIdentifier, SIGKILL)
        try await exited()
    }

    /// SIGTERM, then waits for the process to end.
    public func stop() async throws {
        guard process.isRunning else { return }
        process.terminate()
        try await exited()
    }

    /// Waits without blocking a thread (`waitUntilExit` would hold one of the few the tests share).
    private func exited() async throws {
        try await TestSupport.eventually("the process to exit", timeout: .seconds(20)) { !self.process.isRunning }
    }

    /// A process a failing test left behind is killed, not waited for.
    deinit { if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) } }
}

/// Why a benchmark stopped: what it measured would not be true.
public struct BenchmarkFailure: Error, CustomStringConvertible {
    public let reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}

public struct ProcessExited: Error, CustomStringConvertible {
    public let product: String
    public var description: String { "\(product) exited before it was ready" }
}

extension TestSupport {
    /// What a `stripe-sync` process needs to run against the test database and a sandbox at `stripe`.
    public static func stripeSyncProcessEnvironment(port: Int, stripe: String) -> [String: String] {
        [
            "DATABASE_URL": ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "",
            "INTERNAL_SECRET": internalSecret,
            "STRIPE_SECRET_KEY": "sk_test_platform",
            "STRIPE_CLIENT_ID": "ca_test_platform",
            "STRIPE_API_BASE": stripe,
            "TOKEN_ENCRYPTION_KEY": tokenEncryptionKey,
            "STRIPE_SYNC_PORT": String(port),
            "LOG_LEVEL": "error",
        ]
    }
}
