"""The shipped vocabulary of route words: literals a route may publish without a declaration.

Route literals fail closed (see :mod:`deidentify.dimensions.route`): a literal path segment
is published only when the schema declares it (route templates, an OpenAPI document) or when
it is made of the words below. Everything else becomes the ``{word}`` placeholder, because a
plain word in a path (``/users/alice.smith``, ``/ashworth/ignatius/avatar.png``) cannot be
told from a person's name by its shape, and ``k`` does not help when many people visit it.

What is in it

* :data:`ROUTE_WORDS`: lowercase words of REST APIs, web sites, frameworks and infrastructure
  endpoints (``api``, ``users``, ``orders``, ``profile``, ``avatar``, ``search``, ``healthz``,
  ``static``, ``assets``, ``login``, Kubernetes resource names...), singular and plural as
  they appear in paths.
* :data:`FILE_EXTENSIONS`: extensions that make a known word a file name (``avatar.png``,
  ``favicon.ico``, ``robots.txt``); the stem must itself be known.

What is deliberately NOT in it

* Person names, including the many English words that are also common given names or
  surnames (``will``, ``mark``, ``grace``, ``rose``, ``bill``, ``page``, ``april``, ``june``,
  ``may``, ``max``, ``grant``, ``price``, ``cook``, ``king``, ``edit``, ``line``, ``dev``,
  ``parent``, ``pages``, ``sales``...): such a word in a route is published only when a
  schema declares it. Month and weekday names are out for the same reason. A test checks the
  list against the generator's and the tests' name lists; during development it was also
  checked against the first- and last-name lists of Faker's person providers (all locales),
  and words found there were removed, except a few judged not to be realistic names
  (``add``, ``alpha``, ``author``, ``forum``, ``general``, ``geo``, ``media``,
  ``press``, ``reason``, ``de``).
* Identifier-like strings: every word here is one the segment classifier keeps (no digit
  runs, no token-like letter pairs); a test checks that too.

Adding a word: it must be a generic route word that names no person in any language you
know of; prefer declaring it in the schema (``routes:`` or ``openapi:``) when only one
service uses it. Changing this list changes what every schema may publish.

Memory: two frozensets, ~150 KiB.
"""

from __future__ import annotations

__all__ = ["FILE_EXTENSIONS", "ROUTE_WORDS"]

_WORDS = """
about abuse accept acceptance access account accounts acknowledge action actions activate
activation activities activity actuator ad add addon addons address addresses admin
administration admins ads advanced advertisers affiliate affiliates agent agents aggregate
aggregates aggregations alert alerts alias aliases all allocation allocations alpha
analytics analyze annotations announcements answer answers api apikey apikeys apis app
append application applications apply appointment appointments approval approvals approve
apps archive archived archives area areas article articles asset assets assign assignment
assignments async atom attach attachment attachments attempt attempts attribute attributes
audience audiences audio audit audits auth authenticate authentication authn author
authorization authorizations authorize authors authz auto autocomplete automation
automations autoscaling availability available avatar avatars backend background backup
backups badge badges balance balances bank banner banners base basket batch batches billing
binding bindings blob blobs blocks blog blogs board boards body book booking bookings
bookmarks books bootstrap bot bots branches breakdown broadcast broadcasts browse bucket
buckets budget budgets bug bugs build builds bulk bundle bundles business button buttons
buy cache caches calendar calendars call callback callbacks calls campaign campaigns cancel
cancellation capabilities capture card cards career careers cart carts catalog catalogs
catalogue categories category cdn cert certificate certificates certs cgi change changelog
changes channel channels charge charges chart charts chat chats check checkin checkout
checks chunk chunks cities city claims class classes click clicks client clients clone
cluster clusterroles clusters code codes collaborators collect collection collections
column columns command commands comments commit commits common communities community
companies compare compliance component components compose compute conditions config
configmaps configs configuration configurations confirm confirmation connect connection
connections connector connectors consent console consumer consumers contact contacts
container containers content contents context contract contracts control controls
conversation conversations conversion conversions cookies copy core count counters
countries country counts coupon coupons course courses coverage create credential
credentials credit credits criteria cron cronjobs csrf css currencies currency current
custom customer customers customization customize daemonsets daily dashboard dashboards
data database databases dataset datasets dates days deactivate deal deals debug decline
decrypt default defaults definitions delete deliveries delivery demo departments
dependencies deploy deployment deployments describe design destination destinations detail
details development device devices diagnostics diff digest dimensions directory disable
disconnect discount discounts discover discovery discussion discussions dismiss display
dist distribution dns docs document documentation documents domain domains donate download
downloads draft drafts drive drives duplicate dynamic edge editor education element
elements email emails embed embeds employee employees enable encrypt end endpoint endpoints
endpointslices enroll enrollment enrollments entities entitlements entity entries entry env
environment environments error errors estimate estimates evaluate evaluation evaluations
event events eviction example examples exchange exchanges exec execute execution executions
experiment experiments explore export exports expression extension extensions external
favicon favorite favorites favourites feature features feed feedback feeds fetch file
filename filenames files filter filters finalize finance find fingerprint flag flags flow
flows folder folders follow followers following fonts footer form format formats forms
forum forums frame friends funnel funnels game games gateway general generate geo gift
gifts global goal goals graph graphiql graphql graphs grid group groups grpc guest guests
guide guides hash header headers health healthcheck healthz heartbeat help hidden hierarchy
highlights history home hooks horizontalpodautoscalers host hostname hosts hourly html hub
icon icons id identities identity ids image images img import imports inbox incident
incidents index indexes industries info ingest ingestion ingress ingresses insights install
installation installations instance instances integration integrations intents interactions
interface internal introspect introspection inventory invitation invitations invite invites
invoice invoices io ios ip issue issues item items jobs js json jwks keys keyword keywords
kinds knowledge label labels language languages large latest launch layout layouts lead
leads leases ledger ledgers legal lesson lessons level levels lib libraries library libs
license licenses like likes limit limits lines links listing listings lists live livez load
local locale locales location locations lock log login logo logos logout logs lookup
loyalty mail main maintenance manage management manifest map mapping mappings maps market
marketplace markets match matches me media medium meeting meetings member members
membership memberships mention mentions menu menus merchants merge message messages
metadata method methods metric metrics mfa migrate migration migrations milestone
milestones mobile mode model models moderation modules monitor monitoring monitors monthly
move multipart music name names namespace namespaces native nav navigation network
networking networks new news newsletter newsletters next node nodes note notes notification
notifications oauth oauth2 object objects offer offers offline oidc onboarding online open
openapi openid operation operations option options order orders organisation organisations
organization organizations orgs origin original origins outbox output overview owner owners
package packages panel params partner partners password passwords path pathname paths
patient patients pause pay payment payments payout payouts pdf pending people performance
period periods permission permissions persistent persistentvolumeclaims persistentvolumes
person personal persons phone phones photo photos picture pictures pin ping pins pipeline
pipelines places plan plans platform platforms player players playground playlist playlists
plugin plugins pod pods point points poll polls pong portal portforward posts pprof
preferences premium prescriptions presence preset presets press preview pricing primary
print priority privacy private probe process processes product products profile profiles
program programs progress project projects promo promotion promotions properties property
provider providers proxy public publish purchase purchases push queries query question
questions queue queues quota quotas quote quotes random range rate rates rating ratings raw
reaction reactions readiness readme readyz realtime reason reasons receipt receipts recent
recipient recipients recommend recommendations record records redirect redirects referral
referrals refresh refund refunds region regions register registration registrations
registry reject related release releases reminder reminders remote remove render renew
replicasets replies reply report reports repos repositories repository request requests
reservation reservations reset resize resolve resource resources response responses rest
restore result results resume retrieve retry return returns revenue review reviews revision
revisions revoke rewards risk robots role rolebindings roles rollback rooms root route
routes rpc rule rules run runs runtime saml sample samples sandbox save saved scale scan
scans schedule schedules schema schemas scope scopes score scores screen screens script
scripts sdk search secret secrets secure security segment segments select self send sent
sequence series servers service serviceaccounts services session sessions setting settings
settle setup share shared shares sheet sheets shipment shipments shipping shop shops
signature signatures signin signout signup site sitemap sites size sizes skill skills sku
skus slot slots slug snapshot snapshots social socket solution solutions sort source
sources space spaces spec specs split sponsors sports sprite sprites sso stage stages
standard start stat state statefulsets statement statements states static station stations
statistics stats status step steps stop storage storageclasses store stores stories stream
streams style styles stylesheets submission submissions submit subscribe subscriber
subscribers subscription subscriptions suggest suggestions summaries summary supplier
suppliers support survey surveys suspend swagger sync system systems table tables tag tags
target targets task tasks tax taxes team teams template templates tenant tenants term terms
test tests text theme themes thread threads thumb thumbnail thumbnails thumbs ticket
tickets tier tiers timeline timelines times timezone timezones title titles today todo
todos toggle token tokens tool tools top topic topics total totals totp track tracking
tracks traffic training transaction transactions transcripts transfer transfers translate
translation translations trash tree trending trends trial trials trigger triggers trips
type types unarchive unassign unit units unlock unpublish unread unsubscribe update updates
upgrade upload uploads upsert uptime usage user username users util utils uuid validate
validation validations value values variable variables variant variants vendor vendors
verification verifications verify version versions video videos view views visibility visit
visitors visits voice void volume volumes vote votes voucher vouchers wallet wallets
warehouse warehouses watch watchlist web webhook webhooks website websites websocket weekly
widget widgets wiki wishlist withdraw word words work workers workflow workflows workspace
workspaces write ws www xml xmlrpc yearly zone zones
"""

# Multi-part words kept whole (their parts are not all route words on their own).
_WHOLE = """
.well-known well-known apple-touch-icon apple-touch-icon-precomposed
apple-app-site-association assetlinks browserconfig humans openid-configuration
oauth-authorization-server security change-password cgi-bin wp-admin wp-content
wp-includes wp-json wp-login service-worker sw node_modules _next _nuxt
socket.io x-callback-url
"""

# Language/region codes and short API words that are no one's name.
_SHORT = """
en de fr es it nl pt ja zh ru pl sv da fi nb cs tr ar ro gb eu uk
v ui ux qa ok
"""

ROUTE_WORDS: frozenset[str] = frozenset((_WORDS + _WHOLE + _SHORT).split())
"""Lowercase route words published without a declaration (see the module docstring)."""

FILE_EXTENSIONS: frozenset[str] = frozenset("""
html htm xhtml json jsonld xml txt csv tsv md pdf rss atom ics vcf yaml yml toml
png jpg jpeg gif svg ico webp avif bmp tif tiff heic
css js mjs cjs map wasm woff woff2 ttf otf eot
zip gz tgz tar br zst mp3 mp4 m4a ogg oga ogv webm wav mov
php asp aspx jsp cgi do action webmanifest appcache
""".split())
"""Extensions accepted after a known stem: ``avatar.png``, ``favicon.ico``, ``index.html``."""
