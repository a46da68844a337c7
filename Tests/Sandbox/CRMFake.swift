import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// One event the fake CRM accepted.
public struct CRMReceipt: Codable, Sendable {
    public var kind: String
    public var eventID: String?
    public var idempotencyKey: String?
    public var payload: String
}

/// The CRM's webhooks as the seed's integration guide describes them: Bearer key, JSON payloads, a health check.
/// Faults (500, 401, 400, slow answers, a dropped connection) come from the shared `FaultInjector`.
public final class CRMFake: Sendable {
    public let apiKey: String
    private let received = Mutex<[CRMReceipt]>([])

    init(apiKey: String) {
        self.apiKey = apiKey
    }

    public var receipts: [CRMReceipt] { received.withLock { $0 } }

    func addRoutes(to router: Router<BasicRequestContext>) {
        let webhooks = router.group("crm/webhooks")
        webhooks.get("health") { _, _ in try jsonResponse(["status": "ok"]) }
        for kind in ["customer-registration", "repair-request"] {
            webhooks.post(RouterPath(stringLiteral: kind)) { request, _ in
                guard request.headers[.authorization] == "Bearer \(self.apiKey)" else {
                    return try jsonResponse(["success": "false", "error": "invalid API key"], status: .unauthorized)
                }
                var request = request
                let body = try await request.collectBody(upTo: 4 * 1024 * 1024)
                let json = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
                let section = kind == "customer-registration" ? "customer" : "repair"
                guard json?[section] is [String: Any] else {
                    return try jsonResponse(["success": "false", "error": "missing \(section)"], status: .badRequest)
                }
                let receipt = CRMReceipt(
                    kind: kind,
                    eventID: request.headers[HTTPField.Name("X-Event-Id")!],
                    idempotencyKey: request.headers[HTTPField.Name("Idempotency-Key")!],
                    payload: String(buffer: body)
                )
                self.received.withLock { $0.append(receipt) }
                return try jsonResponse(["success": "true", "id": receipt.eventID ?? UUID().uuidString])
            }
        }
        router.get("_sandbox/crm/received") { _, _ in try jsonResponse(self.receipts) }
    }
}
