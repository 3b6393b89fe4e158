"""The national public-service portal (DVCQG): each phone dossier pushed there (docs/onestop.md)."""
