// Package shop simulates an online shop: a deterministic, time-ordered
// stream of input events (purchases, refunds, complaints, contacts) for a
// population of customers who join over time. The demo, the load generator
// and tests use it to get data that looks like a real customer base rather
// than uniform noise.
//
// # Purchases: a BG/NBD process
//
// Each customer makes a first purchase when they join and then, while
// alive, buys again after exponentially distributed gaps with a personal
// rate λ (purchases per day), λ ~ Gamma(shape R, rate Alpha). After every
// repeat purchase the customer drops out for good with a personal
// probability p ~ Beta(A, B). This is the generative story of the BG/NBD
// model (Fader, Hardie & Lee 2005) that the scoring package fits, so the
// fitted parameters can be compared with the configured ones. A share of
// heavy buyers (HeavyShare, default 10 %) buy HeavyFactor times as often.
//
// # Spend: Gamma-Gamma
//
// Order values follow the Gamma-Gamma model: each customer has a scale
// ν ~ Gamma(shape SpendQ, rate SpendGamma) and each order's value is
// Gamma(shape SpendP, rate ν) major units, so spend is heavy-tailed across
// customers and stable within one. Heavy buyers spend more per order too.
// Every order carries a margin, a per-customer share of its value; a few
// customers are served at a loss-making margin.
//
// # Service events
//
// A share of purchases (RefundRate, default 3 %) is refunded, fully or in
// part, a few days later; a share (ComplaintRate, default 2 %) leads to a
// complaint, with severities weighted low > medium > high > critical, most
// of which are resolved later. Every CampaignInterval an outbound campaign
// reaches a share of the customers who joined so far (the shop cannot tell
// who dropped out); alive customers respond more often. Alive customers
// also contact the shop on their own (InboundPerYear).
//
// # Iterating
//
// New builds a Shop; Next returns the events one by one in time order and
// Until returns every event up to a time, which lets a caller drive the
// shop with an accelerated clock. The same Config (including Seed) always
// yields the same events with the same ids.
package shop
