"""Raw data: the synthetic Ali-CCP-shaped generator and the checks user-supplied tables
must pass before any step reads them."""
