"""Links for emails: a batch's links made from one built URL are the links built one by one."""

from campaign.urls import external_url, external_url_maker


def test_a_link_made_from_the_batchs_url_is_the_link_built_alone(app):
    confirm = external_url_maker("supports.confirm", "token")
    values = ("eyJzIjoxfQ.aBc-_~9.Zz", "needs quoting: a b/c?d&é#", "%2F", "x" * 300)
    for value in values:
        assert confirm(value) == external_url("supports.confirm", token=value)
    assert confirm(values[0]).endswith("/confirm/" + values[0])
    app.config["PUBLIC_URL"] = "https://example.org/under/here"
    assert external_url_maker("supports.withdraw", "token")("abc") == external_url(
        "supports.withdraw", token="abc"
    )
    assert external_url("supports.withdraw", token="abc").startswith("https://example.org/under/here/")
