"""Innovatif (Xendity) eKYC gateway protocol v2.7: envelope crypto, HTTP client,
result mapping and callback verification. Shared by the live integration and
the provider sandbox, which is why it is tested against independent vectors."""
