import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// `GET /api/stream`: Server-Sent Events for the signed-in user (admins also get the admins' events). A client that
/// reconnects with `Last-Event-ID` (or `?lastEventId=`) first gets what it missed, then live events; when its id is
/// older than what is kept it gets a `reset` event and should reload. A comment every `keepAlive` keeps proxies
/// from closing an idle stream and finds clients that have gone.
public struct StreamRoute: Sendable {
    let hub: StreamHub

    public init(hub: StreamHub) { self.hub = hub }

    public func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/api/stream") { request, context -> Response in
            let identity = try context.requireIdentity()
            guard identity.isUser else { throw APIError.forbidden("user_required", "the stream is for signed-in users") }
            let header = request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.uri.queryParameters.get("lastEventId")
            let lastSeen = try header.map { value -> Int64 in
                guard let id = Int64(value), id >= 0 else {
                    throw APIError.badRequest("invalid_last_event_id", "Last-Event-ID must be the id of an event this stream sent")
                }
                return id
            }
            let admin = identity.role == .admin
            // Subscribed before the replay is read, so nothing published in between is lost; what both hold is sent once.
            guard let (subscription, items) = hub.subscribe(userID: identity.subject, admin: admin) else {
                throw APIError(.tooManyRequests, "too_many_streams", "too many open streams; close one (at most \(hub.limits.perUser) each)")
            }
            var replay: (events: [StreamEvent], tooOld: Bool) = ([], false)
            do {
                if let lastSeen {
                    replay = try await StreamEvents.after(
                        lastSeen,
                        userID: identity.subject,
                        admin: admin,
                        postgres: hub.postgres,
                        logger: context.logger
                    )
                }
            } catch {
                hub.unsubscribe(subscription)
                throw error
            }
            let hub = self.hub
            let missed = replay
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no"],
                body: ResponseBody { writer in
                    defer { hub.unsubscribe(subscription) }
                    var last = lastSeen ?? 0
                    try await writer.write(ByteBuffer(string: "retry: 3000\n: connected\n\n"))
                    if missed.tooOld { try await writer.write(ByteBuffer(string: "event: reset\ndata: {\"reason\":\"last_event_id_expired\"}\n\n")) }
                    for event in missed.events {
                        try await writer.write(ByteBuffer(string: event.frame))
                        last = event.id
                    }
                    // A server shutting down (SIGTERM, a rolling deploy) ends its streams, so it can stop and their
                    // clients reconnect to a replica that stays, with the last id they saw.
                    try await withGracefulShutdownHandler {
                        for await item in items {
                            // The token it opened with has run out: nothing more is sent; the client signs in again and
                            // reconnects with the last id it saw.
                            if let expiry = identity.credentialExpiresAt, expiry <= Date() {
                                try await writer.write(ByteBuffer(string: "event: expired\ndata: {\"reason\":\"token_expired\"}\n\n"))
                                break
                            }
                            switch item {
                            case .event(let event) where event.id > last:
                                try await writer.write(ByteBuffer(string: event.frame))
                                last = event.id
                            case .event: continue
                            case .keepAlive: try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                            }
                        }
                    } onGracefulShutdown: {
                        hub.finish(subscription)
                    }
                    try await writer.finish(nil)
                }
            )
        }
    }
}
