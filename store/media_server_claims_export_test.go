package store

// MediaClaimableSQL and MediaHeldClaimsSQL expose ClaimMedia's look
// without the write lock and its count of each server's claims, for a
// test of their plans.
const (
	MediaClaimableSQL  = claimLookSQL
	MediaHeldClaimsSQL = heldClaimsSQL
)
