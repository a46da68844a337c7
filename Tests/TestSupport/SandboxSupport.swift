import AsyncHTTPClient
import Hummingbird
import HummingbirdTesting
import Sandbox
import ServiceKit

extension TestSupport {
    /// A live sandbox for the duration of `body`, with a client for it; its base URL is `client.baseURL`.
    public static func withSandbox<Value: Sendable>(
        _ settings: SandboxSettings = SandboxSettings(),
        _ body: @Sendable (Sandbox, any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        let sandbox = Sandbox(settings)
        return try await sandbox.application().test(.live) { client in
            if settings.publicURL == nil { sandbox.stripe.publicURL = client.baseURL }
            return try await body(sandbox, client)
        }
    }

    /// An HTTP client that is shut down after `body`, whatever happens.
    public static func withHTTPClient<Value: Sendable>(
        configuration: HTTPClient.Configuration = .internalCalls,
        _ body: (HTTPClient) async throws -> Value
    ) async throws -> Value {
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
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

extension TestClientProtocol {
    /// `http://127.0.0.1:PORT` of a live test server.
    public var baseURL: String { "http://127.0.0.1:\(port!)" }
}
