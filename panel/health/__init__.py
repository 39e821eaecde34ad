"""Panel health for analysts: composition against the population, recruitment, attrition, contacts."""
