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
    public var processIdentifier: Int32 { process.processIdentifier }

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

public struct ProcessExited: Error, CustomStringConvertible {
    public let product: String
    public var description: String { "\(product) exited before it was ready" }
}
