-- Listing images tests each image for a live reference.
CREATE INDEX image_ref_live ON image_ref(digest, removed_at);
