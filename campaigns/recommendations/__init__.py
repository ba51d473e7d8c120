"""Product recommendations: item-to-item co-purchase, built nightly, read per customer.

- ``scoring``: the numpy/scipy maths, no database (similarity, popularity, a customer's list);
- ``build``: the nightly set-based build per shop (order lines in by COPY, neighbours and
  popular products out by COPY, one transaction per shop);
- ``selectors``: the lists of customers (the API's one, the email context's many);
- ``evaluation``: the held-out hit rate against "most popular";
- ``models``: the stored neighbours, popular products and each shop's last build.
"""
