// How kbroker's own connections log in to the listeners they reach, as Kafka's broker does:
// broker traffic (follower fetches, transaction markers and verification, the Schema
// Registry's reads and writes) goes to the inter-broker listener (inter.broker.listener.name,
// or the listener named by security.inter.broker.protocol, else the first advertised one) with
// sasl.mechanism.inter.broker.protocol; controller traffic (the quorum's votes and fetches,
// registration, heartbeats, forwarded requests) goes to the first of controller.listener.names
// with sasl.mechanism.controller.protocol. The listener's security protocol comes from
// listener.security.protocol.map, its ssl.* settings (with their listener.name.<l>. overrides)
// make the client TLS context, and the credentials are the `username` / `password` options of
// listener.name.<l>.<mechanism>.sasl.jaas.config, as Kafka's client side reads them.
//
// Built once at start-up; INVALID_CONFIG (a configuration error, exit 78) naming the setting
// when something cannot work: a mechanism kbroker cannot log in with (GSSAPI, Kafka's
// default, or OAUTHBEARER), missing credentials, a mechanism this broker's own listener does
// not enable, an unreadable trust store.
#pragma once

#include "config/config.h"
#include "protocol/types.h"
#include "runtime/peer_client.h"

namespace kb::server {

enum class PeerTraffic { Broker, Controller };

Result<runtime::PeerSecurity> make_peer_security(const config::BrokerConfig& c, PeerTraffic traffic);

// The listener each kind of traffic reaches (upper case, as listener names are normalised).
std::string inter_broker_listener_name(const config::BrokerConfig& c);

}  // namespace kb::server
