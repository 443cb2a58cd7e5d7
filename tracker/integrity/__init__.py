"""Is the evidence intact: the audit chain, the blobs, the anchors and the object locks (`vaern verify`)."""
