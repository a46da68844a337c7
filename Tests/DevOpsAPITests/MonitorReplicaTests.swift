import AsyncHTTPClient
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Sandbox
import ServiceKit
import TestSupport
import Testing

/// Two devops-api processes polling the same database: the integrations are shared between them, each is checked
/// once in its interval, and no credential reaches either process's log.
@Suite struct MonitorReplicaTests {
    @Test func twoReplicasShareThePollingAndNeverCheckAnIntegrationTwice() async throws {
        try await TestSupport.withSandbox { sandbox, client in
            let run = UUID().uuidString.prefix(8).lowercased()
            let keys = (0..<6).map { "n8n-replica-\(run)-\($0)-" + UUID().uuidString }
            for (index, key) in keys.enumerated() {
                sandbox.n8n.setInstance(apiKey: key, .generate(workflows: 2, executions: 30, hours: 24, now: Date(), seed: UInt64(100 + index)))
            }
            let logs = FileManager.default.temporaryDirectory.appendingPathComponent("devops-replicas-\(run)")
            try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
            func start(_ name: String) async throws -> (ServiceProcess, URL) {
                let port = TestSupport.freePort()
                let log = logs.appendingPathComponent("\(name).log")
                _ = FileManager.default.createFile(atPath: log.path, contents: nil)
                let process = try await ServiceProcess(
                    product: "devops-api",
                    port: port,
                    environment: [
                        "DATABASE_URL": ProcessInfo.processInfo.environment["DATABASE_URL"] ?? "",
                        "INTERNAL_SECRET": TestSupport.internalSecret,
                        "DEVOPS_WEBHOOK_SECRET": "replica-webhook-secret-0123456789abcdef",
                        "OPS_ENCRYPTION_KEY": Data(repeating: 8, count: 32).base64EncodedString(),
                        "OPS_MONITOR_TICK_MS": "50",
                        "DEVOPS_API_PORT": String(port),
                        "LOG_LEVEL": "debug",
                    ],
                    output: try FileHandle(forWritingTo: log)
                )
                return (process, log)
            }
            let (first, firstLog) = try await start("first")
            let (second, secondLog) = try await start("second")
            try await TestSupport.withGateway(services: ["devops-api": first.baseURL]) { gateway in
                let token = try await TestSupport.userToken("replica-admin", email: "ops@example.com", admin: true)
                for key in keys {
                    let body =
                        #"{"kind":"n8n","name":"\#(key.prefix(22))","base_url":"\#(client.baseURL)","credentials":{"api_key":"\#(key)"},"poll_seconds":300}"#
                    let response = try await gateway.execute(
                        uri: "/api/ops/integrations",
                        method: .post,
                        headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                        body: ByteBuffer(string: body)
                    )
                    #expect(response.status == .created, "\(String(buffer: response.body))")
                }
                let pattern = "n8n-replica-\(run)-%"
                try await TestSupport.eventually("both replicas to check all six") {
                    try await TestSupport.count(
                        "SELECT count(*)::int FROM devops.integrations WHERE name LIKE \(pattern) AND last_checked_at IS NOT NULL"
                    ) == keys.count
                }
                for key in keys {
                    let checks = sandbox.faults.requests.filter {
                        $0.path == "/api/v1/workflows" && $0.query == "limit=1" && $0.header("X-N8N-API-KEY") == key
                    }
                    #expect(checks.count == 1, "checked once in its interval")
                }
                let runs = try await TestSupport.count(
                    """
                    SELECT count(*)::int FROM devops.check_runs r JOIN devops.integrations i ON i.id = r.integration_id
                    WHERE i.name LIKE \(pattern)
                    """
                )
                #expect(runs == keys.count)
                try await TestSupport.withPostgres { postgres in
                    try await postgres.query("DELETE FROM devops.integrations WHERE name LIKE \(pattern)", logger: TestSupport.logger)
                }
            }
            try await first.stop()
            try await second.stop()
            for log in [firstLog, secondLog] {
                let text = try String(contentsOf: log, encoding: .utf8)
                #expect(!text.isEmpty, "the processes log at debug, so there is something to search")
                for key in keys { #expect(!text.contains(key), "\(log.lastPathComponent) holds a credential") }
            }
        }
    }
}
