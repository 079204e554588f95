import NftModel
