"""Everything that reads: the input tables and TikTok's reported exports."""
