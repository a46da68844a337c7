import Crypto
import Foundation
import Hummingbird
import PostgresNIO
import ServiceKit

/// `POST /api/crm/events/customer-registration` and `/repair-request`: validate, write to the outbox, answer 202.
struct EventRoutes {
    let postgres: PostgresClient
    let strictPhotoURLs: Bool

    struct Accepted: ResponseCodable, Equatable {
        /// Lowercase, as the CRM receives it in `X-Event-Id`.
        var eventId: String
        var status: String
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        for kind in CRMEventKind.allCases {
            router.post("/api/crm/events/\(kind.rawValue)") { request, context -> EditedResponse<Accepted> in
                _ = try context.requireService()
                let body = try await request.body.collect(upTo: 1024 * 1024)
                let accepted = try await accept(Data(buffer: body), kind: kind, idempotencyKey: request.headers[.idempotencyKey], context: context)
                return EditedResponse(status: .accepted, response: accepted)
            }
        }
    }

    func accept(_ body: Data, kind: CRMEventKind, idempotencyKey: String?, context: ServiceRequestContext) async throws -> Accepted {
        let json: JSONValue
        do {
            json = try JSONDecoder().decode(JSONValue.self, from: body)
        } catch {
            throw APIError.badRequest("invalid_json", "the body is not valid JSON")
        }
        let problems = EventValidation.problems(in: json, kind: kind, strictPhotoURLs: strictPhotoURLs)
        guard problems.isEmpty else { throw APIError.invalidPayload(problems) }
        if let idempotencyKey, idempotencyKey.isEmpty || idempotencyKey.count > 200 {
            throw APIError.badRequest("invalid_idempotency_key", "Idempotency-Key must be 1 to 200 characters")
        }
        let hash = Data(SHA256.hash(data: body)).hexString
        let stored = try await OutboxQueries.insert(
            id: UUID(),
            kind: kind,
            payload: String(decoding: body, as: UTF8.self),
            payloadHash: hash,
            idempotencyKey: idempotencyKey,
            postgres: postgres,
            logger: context.logger
        )
        guard stored.payloadHash == hash, stored.kind == kind.rawValue else {
            throw APIError(.conflict, "idempotency_key_reused", "this Idempotency-Key was used for a different event")
        }
        return Accepted(eventId: stored.id.uuidString.lowercased(), status: "queued")
    }
}
