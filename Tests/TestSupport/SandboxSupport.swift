import AsyncHTTPClient
import Hummingbird
import HummingbirdTesting
import Sandbox
import ServiceKit

extension TestSupport {
    /// A live sandbox for the duration of `body`, with its base URL.
    public static func withSandbox<Value: Sendable>(
        _ settings: SandboxSettings = SandboxSettings(),
        _ body: @Sendable (Sandbox, String) async throws -> Value
    ) async throws -> Value {
        let sandbox = Sandbox(settings)
        return try await sandbox.application().test(.live) { client in
            let url = "http://127.0.0.1:\(client.port!)"
            if settings.publicURL == nil { sandbox.stripe.publicURL = url }
            return try await body(sandbox, url)
        }
    }

    /// An HTTP client that is shut down after `body`, whatever happens.
    public static func withHTTPClient<Value: Sendable>(_ body: (HTTPClient) async throws -> Value) async throws -> Value {
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .internalCalls)
        do {
            let value = try await body(http)
            try await http.shutdown()
            return value
        } catch {
            try? await http.shutdown()
            throw error
        }
    }
}
