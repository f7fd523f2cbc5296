"""Word lists of the generator: all invented or generic; no real person is meant.

Names and streets are common ones from many countries (with accents, apostrophes and
particles, so the pipeline's name detectors meet real shapes); phone prefixes are the
fictional/drama ranges where one exists; card numbers are the public test numbers (every
one passes Luhn); IPs come mostly from the documentation ranges (see ``population``).
Read-only tables, built once at import.
"""

from __future__ import annotations

import unicodedata

FIRST_NAMES = (
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
    "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter",
    "Zoë", "Amélie", "Björn", "Chloé", "Dmitri", "Émile", "Fatima", "Giulia", "Hiroshi",
    "Ines", "Jürgen", "Kaja", "Lars", "Maëlle", "Noor", "Oskar", "Priya", "Quentin", "Rosa",
    "Søren", "Tomasz", "Ulla", "Valentina", "Wei", "Ximena", "Yusuf", "Zofia", "Aoife",
    "Bartosz", "Camille", "Diego", "Elif", "Finn", "Greta", "Hamza", "Isla", "Jonas",
)
LAST_NAMES = (
    "Smith", "Jones", "Müller", "Schmidt", "Dubois", "Martin", "Rossi", "Bianchi", "García",
    "Fernández", "Kowalski", "Nowak", "Jansen", "de Vries", "Andersson", "Nielsen", "Murphy",
    "O'Brien", "Kelly", "Novák", "Horváth", "Popescu", "Papadopoulos", "Silva", "Santos",
    "Johansson", "Virtanen", "Lefebvre", "Moreau", "Fischer", "Weber", "Wagner", "Becker",
    "Hoffmann", "Costa", "Ferrari", "Esposito", "Lindqvist", "Berg", "Hansen", "Larsen",
    "Tanaka", "Suzuki", "Kim", "Nguyen", "Patel", "Singh", "Chen", "Walker", "Taylor",
)
EMAIL_DOMAINS = (
    "gmail.com", "outlook.com", "yahoo.co.uk", "proton.me", "gmx.de", "web.de", "orange.fr",
    "icloud.com", "hotmail.com", "example.org", "mail.example.com", "posteo.de", "libero.it",
)
COMPANIES = (
    "acme-corp", "northwind", "contoso", "globex-intl", "wayne-enterprises", "stark-industries",
    "tyrell", "cyberdyne", "soylent", "initrode", "vandelay", "bluth", "sirius-cybernetics",
    "prestige-worldwide", "gringotts", "oceanic", "massive-dynamic", "hooli-xyz", "aperture",
    "black-mesa", "monarch", "wonka", "oscorp", "umbrella-labs", "krusty",
)
STREETS = (
    "High Street", "Station Road", "Hauptstraße", "Bahnhofstraße", "Rue de la Paix",
    "Rue Victor Hugo", "Via Roma", "Calle Mayor", "Kerkstraat", "Storgatan", "Main Street",
    "Oak Avenue", "Maple Drive", "Church Lane", "Mill Road", "Park Avenue", "Elm Street",
    "Ulica Długa", "Rua Augusta", "Gran Vía",
)
# country -> (cities, currency, phone prefix, phone digits after it, postal code format with
# "9" = digit, "A" = letter). Phone prefixes are the fictional/drama ranges where one exists.
COUNTRIES: dict[str, tuple[tuple[str, ...], str, str, int, str]] = {
    "DE": (("Berlin", "München", "Hamburg", "Köln"), "EUR", "+49 30 ", 8, "99999"),
    "FR": (("Paris", "Lyon", "Marseille", "Lille"), "EUR", "+33 6 ", 8, "99999"),
    "NL": (("Amsterdam", "Rotterdam", "Utrecht"), "EUR", "+31 6 ", 8, "9999 AA"),
    "IE": (("Dublin", "Cork", "Galway"), "EUR", "+353 87 ", 7, "A99 A9A9"),
    "ES": (("Madrid", "Barcelona", "Valencia"), "EUR", "+34 6", 8, "99999"),
    "IT": (("Roma", "Milano", "Torino"), "EUR", "+39 3", 9, "99999"),
    "SE": (("Stockholm", "Göteborg", "Malmö"), "SEK", "+46 70 ", 7, "999 99"),
    "PL": (("Warszawa", "Kraków", "Gdańsk"), "PLN", "+48 5", 8, "99-999"),
    "GB": (("London", "Manchester", "Leeds", "Bristol"), "GBP", "+44 7700 900", 3, "AA9 9AA"),
    "CH": (("Zürich", "Genève", "Basel"), "CHF", "+41 79 ", 7, "9999"),
    "US": (("New York", "Austin", "Seattle", "Chicago"), "USD", "+1 202-555-01", 2, "99999"),
    "CA": (("Toronto", "Montréal", "Vancouver"), "CAD", "+1 416-555-01", 2, "A9A 9A9"),
    "JP": (("Tokyo", "Osaka", "Kyoto"), "JPY", "+81 90-", 8, "999-9999"),
    "AU": (("Sydney", "Melbourne", "Brisbane"), "AUD", "+61 491 570 ", 3, "9999"),
    "SG": (("Singapore",), "SGD", "+65 8", 7, "999999"),
    "IN": (("Bengaluru", "Mumbai", "Pune"), "INR", "+91 98", 8, "999999"),
}
REGION_COUNTRIES: dict[str, tuple[str, ...]] = {
    "eu": ("DE", "DE", "FR", "FR", "NL", "IE", "ES", "IT", "SE", "PL", "GB", "GB", "CH"),
    "us": ("US", "US", "US", "US", "CA"),
    "ap": ("JP", "JP", "AU", "SG", "IN"),
}
ZERO_DECIMAL = frozenset({"JPY", "KRW", "CLP", "VND"})

USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "shopfront-python/3.4.1 (python 3.12.7; linux)",
    "shopfront-node/12.0.3 node/v22.11.0",
    "okhttp/4.12.0",
    "curl/8.10.1",
    "PostmanRuntime/7.42.0",
    "Go-http-client/2.0",
)
PRODUCTS = (
    ("SKU-TSHIRT-M", "Organic cotton t-shirt, size M", 2500),
    ("SKU-MUG-01", "Ceramic mug 350 ml", 1200),
    ("SKU-PRO-MONTH", "Pro plan, monthly", 4900),
    ("SKU-TEAM-YEAR", "Team plan, yearly (5 seats)", 99000),
    ("SKU-SEAT", "Additional seat", 900),
    ("SKU-STICKERS", "Sticker pack", 400),
    ("SKU-HOODIE-L", "Hoodie, size L", 5900),
    ("SKU-SUPPORT", "Priority support add-on", 19900),
    ("SKU-GIFT-50", "Gift card 50", 5000),
    ("SKU-SHIP-EXP", "Express shipping", 1500),
)
WEBHOOK_EVENTS = (   # repeated entries are the frequent ones
    "charge.succeeded", "charge.succeeded", "charge.succeeded", "charge.failed",
    "charge.refunded", "invoice.created", "invoice.paid", "invoice.paid",
    "invoice.payment_failed", "customer.created", "customer.updated",
    "checkout.session.completed", "payment_intent.succeeded", "payment_intent.payment_failed",
    "subscription.updated", "subscription.canceled", "refund.created",
)
# Stripe-style public test card numbers: every one passes the Luhn check.
TEST_CARDS = (
    ("visa", "4242424242424242"), ("visa", "4000056655665556"), ("visa", "4012888888881881"),
    ("mastercard", "5555555555554444"), ("mastercard", "2223003122003222"),
    ("mastercard", "5105105105105100"), ("amex", "378282246310005"),
    ("amex", "371449635398431"), ("discover", "6011111111111117"),
    ("diners", "3056930009020004"), ("jcb", "3566002020360505"),
    ("unionpay", "6200000000000005"),
)
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

_ASCII_FOLD = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L"})


def ascii_fold(name: str) -> str:
    """``"Zoë O'Brien"`` → ``"zoeobrien"``: how a name turns up in slugs and emails."""
    folded = unicodedata.normalize("NFKD", name.translate(_ASCII_FOLD))
    return "".join(c for c in folded if c.isascii() and c.isalnum()).lower()
